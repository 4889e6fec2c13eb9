"""The cost model: energy per sample split by component, latency and throughput.

Per sweep every p-bit updates once.  An update draws random bits (rng), forms
its input (bias), and reads each of its neighbours (neighbour, per edge);
every cell of the fabric is clocked once per sweep (clock, per cell — all L²
cells of a fixed-size fabric, used or not, as in the published estimate
E = T·K_mix·L²·E_cell); kept samples are read out (readout, per bit).

Latency: a synchronous fabric spends one clock period per colour phase, so a
sweep takes colours / f; an asynchronous one spends `ticks` periods (one tick
≈ each p-bit updating with probability q, ticks = 1/q).  Chains are independent
copies of the fabric running side by side, so latency is per chain."""
from __future__ import annotations


def ledger(fabric, n_pbits: int, edges_read: int, cycles_per_sweep: int, total_sweeps: int, kept: int,
           chains: int) -> dict:
    """Energy (J per kept sample, by component), latency (s per kept sample) and throughput."""
    e = fabric.energy
    cells = fabric.cells if fabric.cells is not None else n_pbits
    per_chain = {
        "rng": total_sweeps * n_pbits * e["rng_J_per_update"],
        "bias": total_sweeps * n_pbits * e["bias_J_per_update"],
        "neighbour": total_sweeps * edges_read * e["neighbour_J_per_edge"],
        "clock": total_sweeps * cells * e["clock_J_per_cell_update"],
        "readout": kept * n_pbits * e["readout_J_per_bit"],
    }
    kept = max(kept, 1)
    per_sample = {k: v / kept for k, v in per_chain.items()}
    run_latency = total_sweeps * cycles_per_sweep / fabric.clock["frequency_hz"]
    latency = run_latency / kept
    return {
        "ledger": per_sample,
        "energy_per_sample_J": float(sum(per_sample.values())),
        "latency_per_sample_s": latency,
        "run_latency_s": run_latency,
        "samples_per_s": chains / latency if latency > 0 else float("inf"),
        "emulated_spin_updates_per_s": chains * n_pbits * total_sweeps / run_latency if run_latency > 0 else 0.0,
        "cells": cells,
        "energy_per_cell_update_J": (e["rng_J_per_update"] + e["bias_J_per_update"] + e["clock_J_per_cell_update"]
                                     + e["neighbour_J_per_edge"] * (edges_read / n_pbits if n_pbits else 0)),
    }

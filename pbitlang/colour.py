"""A proper colouring of the coupling graph: no two coupled spins share a colour.

Bipartite graphs (every square or cubic lattice with even periodic sides) get
two colours from a vectorised BFS parity.  Others get DSatur for small graphs
and a vectorised Jones–Plassmann greedy (largest degree first) for large ones.
Every colouring is verified before it is returned."""
from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

DSATUR_MAX_NODES = 20_000


def coupling_graph(n: int, J, kbody: dict) -> sp.csr_array:
    """Adjacency (structure only) of J plus a clique for every k-body factor."""
    rows, cols = [J.tocoo().row], [J.tocoo().col]
    for idx, _ in kbody.values():
        k = idx.shape[1]
        for a in range(k):
            for b in range(k):
                if a != b:
                    rows.append(idx[:, a])
                    cols.append(idx[:, b])
    r = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, np.int64)
    keep = r != c
    g = sp.csr_array((np.ones(int(keep.sum()), dtype=np.int8), (r[keep], c[keep])), shape=(n, n))
    g.sum_duplicates()
    return g


def is_proper(graph, colors: np.ndarray) -> bool:
    coo = graph.tocoo()
    return bool(np.all(colors[coo.row] != colors[coo.col]))


def two_colour(graph) -> np.ndarray | None:
    """Parity of BFS depth; None when the graph is not bipartite.

    One BFS from a virtual root joined to one vertex of every component gives
    a spanning forest; pointer doubling then gives each vertex the parity of
    its depth without a Python loop over vertices."""
    n = graph.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    graph = sp.csr_array(graph)
    _, labels = csgraph.connected_components(graph, directed=False)
    roots = np.unique(labels, return_index=True)[1]
    indices = np.concatenate([graph.indices, roots]).astype(np.int32)
    indptr = np.concatenate([graph.indptr, [graph.indptr[-1] + len(roots)]]).astype(np.int64)
    forest = sp.csr_array((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(n + 1, n + 1))
    _, pred = csgraph.breadth_first_order(forest, n, directed=True, return_predecessors=True)
    parent = pred[:n].astype(np.int64)
    parent[roots] = roots
    parity = (parent != np.arange(n)).astype(np.int8)
    jump = parent
    while True:
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        parity = parity ^ parity[jump]
        jump = nxt
    colors = parity.astype(np.int32)
    return colors if is_proper(graph, colors) else None


def dsatur(graph) -> np.ndarray:
    """Brélaz's DSatur: colour the vertex with the most distinct neighbour colours first."""
    n = graph.shape[0]
    indptr, indices = graph.indptr, graph.indices
    degree = np.diff(indptr)
    colors = np.full(n, -1, dtype=np.int32)
    neigh_colors = [set() for _ in range(n)]
    heap = [(0, -int(degree[v]), v) for v in range(n)]
    heapq.heapify(heap)
    while heap:
        _, _, v = heapq.heappop(heap)
        if colors[v] >= 0:
            continue
        used = neigh_colors[v]
        c = 0
        while c in used:
            c += 1
        colors[v] = c
        for u in indices[indptr[v]:indptr[v + 1]]:
            if colors[u] < 0 and c not in neigh_colors[u]:
                neigh_colors[u].add(c)
                heapq.heappush(heap, (-len(neigh_colors[u]), -int(degree[u]), int(u)))
    return colors


def jones_plassmann(graph, seed: int = 0) -> np.ndarray:
    """Parallel greedy: each round colours the local maxima of (degree, random) with their smallest free colour."""
    n = graph.shape[0]
    coo = graph.tocoo()
    r, c = coo.row, coo.col
    rng = np.random.default_rng(seed)
    priority = np.diff(graph.indptr).astype(np.float64) + rng.random(n)
    colors = np.full(n, -1, dtype=np.int64)
    while np.any(colors < 0):
        free = colors < 0
        # a free vertex wins when no free neighbour has a higher priority
        loses = np.zeros(n, dtype=bool)
        both = free[r] & free[c]
        np.logical_or.at(loses, r[both], priority[c[both]] > priority[r[both]])
        winners = free & ~loses
        used = np.zeros(n, dtype=np.uint64)
        colored = (colors[c] >= 0) & (colors[c] < 64) & winners[r]
        np.bitwise_or.at(used, r[colored], np.left_shift(np.uint64(1), colors[c[colored]].astype(np.uint64)))
        w = np.flatnonzero(winners)
        free_bits = ~used[w]
        low = free_bits & (~free_bits + np.uint64(1))
        colors[w] = np.log2(low.astype(np.float64)).astype(np.int64)
    return colors.astype(np.int32)


def colour(graph) -> np.ndarray:
    colors = two_colour(graph)
    if colors is None:
        colors = dsatur(graph) if graph.shape[0] <= DSATUR_MAX_NODES else jones_plassmann(graph)
    if not is_proper(graph, colors):
        raise RuntimeError("internal error: colouring is not proper")
    # isolated vertices all get colour 0 already; renumber densely
    _, dense = np.unique(colors, return_inverse=True)
    return dense.astype(np.int32)


class ColourBlocks:
    """The spins of a proper colouring, colour by colour: the unit of a parallel heat-bath update
    (no two spins of a block are coupled, so a block updates at once and the update is an exact
    Gibbs step).  `order` lists the spins colour by colour (ascending within a colour) and
    ptr[c]:ptr[c + 1] is colour c's range of it; iterating gives each non-empty block.  Every
    sampler and the forward noise of chains take their update order from here."""

    def __init__(self, colors: np.ndarray, spins=None, num_colors: int | None = None):
        colors = np.asarray(colors)
        spins = np.arange(len(colors)) if spins is None else np.asarray(spins, dtype=np.int64)
        k = int(colors.max()) + 1 if num_colors is None and len(colors) else int(num_colors or 0)
        self.order = spins[np.lexsort((spins, colors[spins]))].astype(np.int64)
        self.ptr = np.r_[0, np.cumsum(np.bincount(colors[self.order], minlength=k))].astype(np.int64)

    def __iter__(self):
        for a, b in zip(self.ptr[:-1], self.ptr[1:]):
            if b > a:
                yield self.order[a:b]

"""pbitc: check and compile .pb programs."""
from __future__ import annotations

import json
import sys
import time

from .. import __version__
from ..errors import OptionError, require
from .common import (Parser, add_limit_flags, check_output, compile_progress, defines,
                     limits, program_path, run_entry, run_main)


def build_parser() -> Parser:
    p = Parser(prog="pbitc", description="Compile pbit programs (.pb) to sparse coloured Ising IR (.pbir).")
    p.add_argument("--version", action="version", version=f"pbitc {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("check", "diagnostics only"), ("compile", "compile to IR")):
        c = sub.add_parser(name, help=help_, description=f"{name.capitalize()} a .pb program.")
        c.add_argument("program", help="a .pb program")
        c.add_argument("-D", dest="defines", action="append", metavar="NAME=VALUE",
                       help="set a param (repeatable; NAME=@file.npy loads an array)")
        add_limit_flags(c)
        c.add_argument("--reduce-kbody", action="store_true",
                       help="reduce order ≥ 3 terms to pairwise ones with auxiliary spins")
        c.add_argument("--kbody-penalty", type=float, default=None,
                       help="penalty of those reductions (default: from the largest coefficient)")
        if name == "compile":
            c.add_argument("-o", "--output", help="write the IR (.pbir); checked before compiling")
            c.add_argument("--emit", choices=["text", "json", "stats", "coo", "bqm"],
                           help="print the IR in this form; coo and bqm (dimod's BQM file, extra 'dimod') write "
                                "the model to -o instead of a .pbir (coo without -o prints it)")
    return p


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    check_output(getattr(args, "output", None), "-o")
    model_file = getattr(args, "emit", None) in ("coo", "bqm")
    if model_file and args.emit == "bqm":
        if not args.output:
            raise OptionError("--emit bqm writes a binary file: give -o FILE.bqm")
        require("dimod", "dimod", "--emit bqm")
    path = program_path(args.program, (".pb",))
    from ..compiler import compile_ir                       # the compiler (and sympy) only past --help
    timings: dict = {}
    t0 = time.perf_counter()
    ir = compile_ir(path, defines(args.defines), limits=limits(args), progress=compile_progress(),
                    reduce_kbody=args.reduce_kbody, kbody_penalty=args.kbody_penalty, timings=timings)
    if args.command == "check":
        print(f"{args.program}: ok ({ir.num_spins} spins, {ir.num_couplings} couplings, {ir.num_colors} colours)",
              file=sys.stderr)
        return 0
    if model_file:
        from ..models import coo_text, write_model
        if args.output:
            write_model(ir, args.output, args.emit)
        else:
            sys.stdout.write(coo_text(ir))
        return 0
    if args.output:
        ir.save(args.output)
        timings["save"] = time.perf_counter() - t0 - timings["total"]
    if args.emit == "text":
        sys.stdout.write(ir.to_text())
    elif args.emit == "json":
        print(json.dumps(ir.to_json()))
    elif args.emit == "stats":
        stats = ir.stats()
        stats["compile_seconds"] = {k: round(v, 6) for k, v in timings.items()}
        print(json.dumps(stats, indent=2))
    elif not args.output:
        print(f"{args.program}: {ir.num_spins} spins, {ir.num_couplings} couplings, {ir.num_colors} colours "
              f"(use -o FILE to write the IR, --emit text|json|stats to print it)", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    return run_main(_main, sys.argv[1:] if argv is None else argv, "pbitc")


def entry():
    run_entry(main)


if __name__ == "__main__":
    entry()

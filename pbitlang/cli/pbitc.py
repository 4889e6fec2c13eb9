"""pbitc: check and compile .pb programs."""
from __future__ import annotations

import json
import sys
import time

from ..compiler import compile_ir
from ..limits import Limits
from .common import Parser, defines, run_main


def build_parser() -> Parser:
    p = Parser(prog="pbitc", description="Compile pbit programs (.pb) to sparse coloured Ising IR (.pbir).")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("check", "diagnostics only"), ("compile", "compile to IR")):
        c = sub.add_parser(name, help=help_)
        c.add_argument("program")
        c.add_argument("-D", dest="defines", action="append", metavar="NAME=VALUE",
                       help="set a parameter (NAME=@file.npy loads an array)")
        c.add_argument("--max-spins", type=int, default=Limits.max_spins)
        c.add_argument("--max-terms", type=int, default=Limits.max_terms)
        c.add_argument("--reduce-kbody", action="store_true",
                       help="reduce order ≥ 3 terms to pairwise ones with auxiliary spins")
        c.add_argument("--kbody-penalty", type=float, default=None)
        if name == "compile":
            c.add_argument("-o", "--output", help="write the IR (.pbir)")
            c.add_argument("--emit", choices=["text", "json", "stats"], help="print the IR in this form")
    return p


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    limits = Limits(max_spins=args.max_spins, max_terms=args.max_terms)
    timings: dict = {}
    t0 = time.perf_counter()
    ir = compile_ir(args.program, defines(args.defines), limits=limits, reduce_kbody=args.reduce_kbody,
                    kbody_penalty=args.kbody_penalty, timings=timings)
    if args.command == "check":
        print(f"{args.program}: ok ({ir.num_spins} spins, {ir.num_couplings} couplings, {ir.num_colors} colours)",
              file=sys.stderr)
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
    sys.exit(main())


if __name__ == "__main__":
    entry()

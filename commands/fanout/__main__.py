"""`./run fanout` (python -m fanout): one style-aligned set across several ComfyUI servers."""

from __future__ import annotations

import argparse
import math
import sys
import time

from .plan import FanoutError, prepare
from .runner import MANIFEST, RunFailedError, run

EPILOG = f"""\
Each window is one batch: the reference (first line) as row 0 with the same noise, then up to
WINDOW_SIZE targets. Images are written as OUT/00000.png (the reference), OUT/00001.png, ... (the
prompt's position among the non-empty lines), with OUT/{MANIFEST} (prompt, position, seed, noise index,
server, window, file). Rerun the same command after an interruption: finished windows are kept.
Exit status: 0 done, 1 some windows could not be run, 2 bad input or an unfit server (nothing queued),
130 interrupted.
"""


def seconds(text: str) -> float:
    """--window-timeout: a number of seconds above 0 (0 or less would take every window back at once; nan
    would never take one back)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # also false for nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0: give how long one window "
                                         "may take on a server, e.g. --window-timeout 3600")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="./run fanout", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflow", required=True, help="workflow JSON (UI or API format) with one Style Aligned "
                        "Batch Prompts node")
    parser.add_argument("--prompts", required=True, help="text file, one prompt per line, the first is the reference")
    parser.add_argument("--server", action="append", required=True, metavar="URL",
                        help="a ComfyUI server with the pack (http://HOST:PORT); repeat, or separate with commas")
    parser.add_argument("--window-size", type=int, required=True, help="targets per batch besides the reference")
    parser.add_argument("--out", required=True, help="output folder (new, empty, or a run of the same command)")
    parser.add_argument("--output-node", help="id of the image output node (default: the only SaveImage, else the "
                        "only PreviewImage)")
    parser.add_argument("--restart", action="store_true", help="replace the run in OUT instead of resuming it")
    parser.add_argument("--window-timeout", type=seconds, default=3600.0, help="seconds a window may take on a "
                        "server before it is taken back (default 3600)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    urls = [u for value in args.server for u in value.split(",") if u.strip()]
    started = time.monotonic()
    try:
        plan = prepare(args.workflow, args.prompts, urls, args.window_size, args.output_node)
        manifest = run(plan, args.out, args.workflow, restart=args.restart, progress=not args.quiet,
                       window_timeout=args.window_timeout)
    except FanoutError as exc:
        print(f"fanout: {exc}\nnothing was queued.", file=sys.stderr)
        return 2
    except RunFailedError as exc:
        print(f"fanout: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nfanout: interrupted; rerun the same command to resume from {args.out}/{MANIFEST}", file=sys.stderr)
        return 130
    by_server = {}
    for image in manifest["images"]:
        by_server[image["server"]] = by_server.get(image["server"], 0) + 1
    print(f"fanout: {len(manifest['images'])} images of {manifest['prompt_count']} prompts in {args.out} "
          f"({time.monotonic() - started:.1f} s; " + ", ".join(f"{u}: {n}" for u, n in by_server.items()) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())

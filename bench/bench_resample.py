"""What resampling one second of audio costs, from 8000-48000 Hz (primes included) to Whisper's 16 kHz and
CLAP's 48 kHz:

    PYTHONPATH=tests:commands:generators python bench/bench_resample.py [--seconds 1] [--compare]

Each conversion runs in a fresh process, so its peak RSS rise is its own: the rise of the process's max
RSS over the call (C allocations included, which tracemalloc does not see), tracemalloc's peak (Python and
numpy allocations) and the wall time. Ours is `core.content.audio.resample` (python-soxr). --compare
adds scipy's `resample_poly` (a polyphase filter of 20 * max(up, down) taps, up/down the ratio in lowest
terms) for reference. The sinc kernel this replaced is left out: at 11127 Hz it took 24 s and 7.3 GB.
"""

import argparse
import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc

RATES = (8000, 11025, 11127, 16001, 22050, 32003, 44099, 44100, 47999, 48000)
TARGETS = (16000, 48000)


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(method, rate, target, seconds):
    """{'ms', 'traced_mb', 'rss_mb', 'samples'} of one conversion in this process."""
    import numpy as np
    import torch

    signal = torch.from_numpy(np.random.default_rng(0).standard_normal(round(rate * seconds), dtype=np.float32))
    if method == "ours":
        from harness import pack

        pack.package()
        from style_aligned.core.content.audio import resample

        def call():
            return resample(signal[None], rate, target)[0]
    else:
        from scipy.signal import resample_poly

        gcd = math.gcd(rate, target)

        def call():
            return resample_poly(signal.numpy(), target // gcd, rate // gcd)
    before = max_rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    out = call()
    elapsed = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"ms": elapsed * 1000, "traced_mb": traced / 2**20, "rss_mb": max_rss_mb() - before,
            "samples": len(out)}


def in_fresh_process(method, rate, target, seconds):
    command = [sys.executable, __file__, "--one", method, str(rate), str(target), "--seconds", str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--compare", action="store_true", help="also scipy.signal.resample_poly")
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "RATE", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        method, rate, target = args.one
        print(json.dumps(measure(method, int(rate), int(target), args.seconds)))
        return
    methods = ["ours", "resample_poly"] if args.compare else ["ours"]
    print(f"{args.seconds:g} s of audio, each conversion in a fresh process")
    print(f"{'from Hz':>8} {'to Hz':>6}  {'method':<14} {'samples':>8} {'time ms':>8} {'RSS rise MB':>11} "
          f"{'traced MB':>9}")
    for rate in RATES:
        for target in TARGETS:
            for method in methods:
                m = in_fresh_process(method, rate, target, args.seconds)
                print(f"{rate:>8} {target:>6}  {method:<14} {m['samples']:>8} {m['ms']:>8.1f} {m['rss_mb']:>11.1f} "
                      f"{m['traced_mb']:>9.1f}")


if __name__ == "__main__":
    main()

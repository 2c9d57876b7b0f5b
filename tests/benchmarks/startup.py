"""Window-shown time against the time to `import torch` alone, in the same run.

    python tests/benchmarks/startup.py [--runs 5]

Target: the window shows in under a third of the torch import time (the window must not
wait for torch, which the engine thread imports after the first paint).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile


def window_shown_ms(home: str) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LATENT_STUDIO_HOME": home}
    out = subprocess.run(
        [sys.executable, "-m", "latentstudio", "gui", "--quit-after-shown"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("window-shown-ms:"))
    return float(line.split(":")[1])


def torch_import_ms() -> float:
    code = "import time; t = time.perf_counter(); import torch; print((time.perf_counter() - t) * 1000)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        window_shown_ms(home)  # warm the OS file cache for both sides alike
        torch_import_ms()
        shown = [window_shown_ms(home) for _ in range(args.runs)]
        torch = [torch_import_ms() for _ in range(args.runs)]
    shown_median, torch_median = statistics.median(shown), statistics.median(torch)
    print(f"window-shown-ms median of {args.runs}: {shown_median:.0f} (runs: {', '.join(f'{v:.0f}' for v in shown)})")
    print(f"import-torch-ms median of {args.runs}: {torch_median:.0f} (runs: {', '.join(f'{v:.0f}' for v in torch)})")
    ratio = shown_median / torch_median
    print(f"ratio window/torch: {ratio:.2f} (target < 0.33): {'met' if ratio < 1 / 3 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

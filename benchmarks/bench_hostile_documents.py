"""Time and peak memory of refusing hostile sweep specs (issue 20: "well under a second and under 100 MB"), each
read through ``rdlr.spec.core.load_spec`` in a fresh process, beside an ordinary packaged spec read the same way:

* billion laughs: 9 levels of 9 aliases (9**9 strings once expanded; PyYAML alone builds it shared, but anything
  that walks it, such as the spec's checks, does not);
* a spec nested 5,000 levels deep (flow lists), and one of 1 MiB + 1 byte.

Peak memory is the child's maximum resident set (``ru_maxrss``) minus its resident set just before reading.

    python benchmarks/bench_hostile_documents.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = "id: hostile\ndata: {source: demo}\nfeatures: [is10]\nheld_out: [CRE-demo]\nprotocols: {out_of_corpus: [ce]}\n"
CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from rdlr.spec.core import load_spec
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    load_spec({path!r})
    outcome = "read"
except ValueError as error:
    outcome = str(error)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "extra_mib": (peak - before) / 1024, "outcome": outcome}}))
"""


def billion_laughs() -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return SPEC + "\n".join(lines) + "\n"


CASES = {
    "packaged spec table2 (reference)": None,
    "billion laughs (9 x 9 aliases)": billion_laughs(),
    "nested 5,000 levels": SPEC + "training: " + "[" * 5000 + "1" + "]" * 5000 + "\n",
    "1 MiB + 1 byte": SPEC + "description: " + "x" * 2**20 + "\n",
}


def measure(path: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(repo=str(REPO), path=path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'case':36s} {'seconds':>8s} {'extra MiB':>10s}  outcome")
        for name, text in CASES.items():
            path = str(REPO / "sweeps" / "table2.yaml")
            if text is not None:
                path = str(Path(folder) / "spec.yaml")
                Path(path).write_text(text)
            result = measure(path)
            print(f"{name:36s} {result['seconds']:8.3f} {result['extra_mib']:10.1f}  {str(result['outcome'])[:90]}")


if __name__ == "__main__":
    main()

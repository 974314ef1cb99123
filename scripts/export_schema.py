"""Write the telemetry JSON Schema to docs/telemetry-schema.json (``--check``: fail if the file is stale).

.venv/bin/python scripts/export_schema.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from guardrail.telemetry.events import schema_text

TARGET = Path(__file__).resolve().parent.parent / "docs" / "telemetry-schema.json"


def main(argv: list[str] | None = None) -> int:
    """Write (or check) the schema file; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is not current")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    text = schema_text()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; run: python scripts/export_schema.py", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

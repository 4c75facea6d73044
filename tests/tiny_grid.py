"""A Table 3 spec of two trials of a tiny MREN, for tests that need a real run to be fast."""

import textwrap
from pathlib import Path

TINY_MREN = "{n_mreb: 3, channels: 12, scacb_channels: 4, distill_channels: 4, rbwa_channels: 12, wsilb_reduction: 3}"


def tiny_spec(folder: Path) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(textwrap.dedent(f"""\
        table: table3
        base: {{model: mren, config: {TINY_MREN}, scale: 4, epochs: 900, eval: [Set5]}}
        variants:
          - {{row: OSA, config: {{scacb: osa}}}}
          - {{row: SCACB}}
        """))
    return path

"""Evaluation protocols: how an SR output is made from a benchmark pair and scored, each a named object.

A published PSNR/SSIM is the product of weights *and* of the script that scored them. `common` is the convention of
EDSR, IMDN and the MREN paper (`../shared/README.md`): every model maps RGB LR to RGB SR, which is quantized and
scored on Y. The others transcribe the test scripts that some authors released with their weights; they run only
networks on the luma channel (models with a `luma(y_lr, y_up)` method) and make their inputs from the HR as the
script does. `docs/protocols.md` tabulates what each one decides.

`base` holds the Protocol type and the registry; `common` and each family of authors' scripts are a module of their
own (`matlab_demos`: SRCNN, VDSR, IDN; `edsr_style`: LatticeNet; `basicsr`: PAN; `carn`: CARN-M;
`lapsrn_matlab`: LapSRN and MS-LapSRN; `hpinet`: HPINet; `a2f`: A2F-SD), imported here so that each registers its
protocols. A new family is a new module and one import line below.
"""

from harness.evaluation.protocols.base import PROTOCOLS, Protocol, Scorer, check_runs, get, run_luma, run_rgb
from harness.evaluation.protocols import common, matlab_demos  # noqa: F401  (each registers its protocols)
from harness.evaluation.protocols import (a2f, basicsr, carn, edsr_style, hpinet,  # noqa: F401
                                          lapsrn_matlab)  # issue 20's released models

__all__ = ["PROTOCOLS", "Protocol", "Scorer", "check_runs", "get", "run_luma", "run_rgb"]

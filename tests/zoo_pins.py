"""Set5 of every released file of ablations/zoo.yaml, measured from the files (CPU, float32): (PSNR, SSIM) per
protocol, keyed by (model, scale, weights file). tests/test_zoo_smoke.py checks the smoke grid's records against
them; tests/test_zoo_released.py checks LapSRN's against its published cells. Two helpers measured the LapSRN,
MS-LapSRN, A2F-SD and HPINet values independently (an in-process evaluation and the grid) and got these digits."""

SET5 = {
    ("latticenet", 2, "LatticeNet_x2.pt"): {"common": (38.0606, 0.96074), "edsr-test": (38.0606, 0.96074),
                                            "edsr-test+x8": (38.1503, 0.96102)},
    ("latticenet", 3, "LatticeNet_x3.pt"): {"common": (34.3966, 0.92722), "edsr-test": (34.3966, 0.92722),
                                            "edsr-test+x8": (34.5264, 0.92812)},
    ("latticenet", 4, "LatticeNet_x4.pt"): {"common": (32.1813, 0.89430), "edsr-test": (32.1813, 0.89430),
                                            "edsr-test+x8": (32.3031, 0.89624)},
    ("pan", 2, "PANx2_DF2K.pth"): {"common": (38.0007, 0.96049), "basicsr-test": (38.0007, 0.96049)},
    ("pan", 3, "PANx3_DF2K.pth"): {"common": (34.4003, 0.92717), "basicsr-test": (34.4003, 0.92717)},
    ("pan", 4, "PANx4_DF2K.pth"): {"common": (32.1311, 0.89481), "basicsr-test": (32.1311, 0.89481)},
    # no variant reproduces CARN-M (docs/protocols.md): carn-sample is 0.02-0.10 dB low, common 0.04-0.15 dB off
    ("carn_m", 2, "carn_m.pth"): {"common": (37.6784, 0.95948), "carn-sample": (37.4251, 0.95830)},
    ("carn_m", 3, "carn_m.pth"): {"common": (34.0577, 0.92478), "carn-sample": (33.9727, 0.92353)},
    ("carn_m", 4, "carn_m.pth"): {"common": (31.8831, 0.89099), "carn-sample": (31.8215, 0.88973)},
    ("lapsrn", 2, "LapSRN_x2.mat"): {"common": (37.4818, 0.95862), "lapsrn-cvpr17": (37.5167, 0.95907),
                                     "lapsrn-matlab": (37.5167, 0.95907)},
    ("lapsrn", 4, "LapSRN_x4.mat"): {"common": (31.5265, 0.88623), "lapsrn-cvpr17": (31.5385, 0.88525),
                                     "lapsrn-matlab": (31.5385, 0.88525)},
    ("ms_lapsrn", 2, "MSLapSRN_D5R8.mat"): {"common": (37.7356, 0.95952), "lapsrn-matlab": (37.7780, 0.96009)},
    ("ms_lapsrn", 4, "MSLapSRN_D5R8.mat"): {"common": (31.7206, 0.88983), "lapsrn-matlab": (31.7368, 0.88891)},
    ("ms_lapsrn", 2, "MSLapSRN_D5R5.mat"): {"common": (37.6754, 0.95939), "lapsrn-matlab": (37.7153, 0.95989)},
    ("ms_lapsrn", 4, "MSLapSRN_D5R5.mat"): {"common": (31.7211, 0.88921), "lapsrn-matlab": (31.7382, 0.88840)},
    ("ms_lapsrn", 2, "MSLapSRN_D5R2.mat"): {"common": (37.5773, 0.95896), "lapsrn-matlab": (37.6166, 0.95950)},
    ("ms_lapsrn", 4, "MSLapSRN_D5R2.mat"): {"common": (31.6055, 0.88746), "lapsrn-matlab": (31.6208, 0.88659)},
    ("a2f_sd", 2, "A2F_SD_x2_model_best.pt"): {"common": (37.9099, 0.96019), "a2f-validator": (37.9009, 0.96019)},
    ("a2f_sd", 3, "A2F_SD_x3_model_best.pt"): {"common": (34.2332, 0.92586), "a2f-validator": (34.2445, 0.92591)},
    ("a2f_sd", 4, "A2F_SD_x4_model_best.pt"): {"common": (32.0628, 0.89283), "a2f-validator": (32.0628, 0.89283)},
    ("hpinet_m", 2, "HPINet-M-x2.pth"): {"common": (38.2059, 0.96152), "hpinet-test": (38.1205, 0.96051)},
    ("hpinet_m", 3, "HPINet-M-x3.pth"): {"common": (34.7338, 0.92997), "hpinet-test": (34.6963, 0.92891)},
    ("hpinet_m", 4, "HPINet-M-x4.pth"): {"common": (32.6246, 0.89976), "hpinet-test": (32.6007, 0.89864)},
    ("hpinet_s", 4, "HPINet-S-x4.pth"): {"common": (32.4949, 0.89873), "hpinet-test": (32.4727, 0.89764)},
}

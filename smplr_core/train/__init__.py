"""Training of the DAE and SMPLR: ``python -m smplr_core.train`` / ``smplr-train``."""

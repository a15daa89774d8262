"""Evaluation: every metric defined once (:mod:`.metrics`), scoring of samples and solves
(:mod:`.scoring`), the paired bootstrap (:mod:`.bootstrap`) and the Gaussian oracle (:mod:`.oracle`)."""

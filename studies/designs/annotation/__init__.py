"""The annotation-task design: k votes per item, majority vote and Fleiss' kappa (Singla et al., appendix A.4)."""

"""Within-subject trials with counterbalanced methods: the study design of the CEM-MAF user study (Luss et al.,
seeds/cem-maf-contrastive-explanations.txt, section 5 and the supplement's Figure 8).

models.py (setup, methods, pool, explanation images, trial lists, ratings with revisions), services/ (configuration,
counterbalanced allocation, answering), selectors.py, design.py (the StudyDesign), views.py, analysis.py (the
design's analysis, from stats.analysis.repeated_measures), simulation.py (simulated participants), admin.py, api.py.
"""

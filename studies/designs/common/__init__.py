"""What the design apps (studies/designs/<design>/) share: owner-scoped admin, API and serializer pieces, the
participant selection and data hash of a design's analysis, and the rebuild rule of a design's demo study.

Only design apps import this package; it imports studies (selectors, api) and stats.analysis, never a design.
"""

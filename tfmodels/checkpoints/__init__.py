"""Checkpoint formats. Every reader yields `WeightFile`s (name -> lazily loaded numpy array); one loader assigns
them to a model (`loader.load_weight_files`), so a new format is one reader module."""

"""Training with Keras: internal-loss compile/train_step/test_step, dataset preparation, callbacks, model cards.

Works on any `keras.Model` following a small protocol; never imports `tfmodels`. (Filled in by the training
issue; empty for now.)
"""

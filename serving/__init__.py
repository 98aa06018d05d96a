"""SavedModel export for TF Serving: signatures, versioned layout, warm-up and verification.

Works on any `keras.Model` with `input_signature` and `serving_output`; never imports `tfmodels`. (Filled in by
the serving issue; empty for now.)
"""

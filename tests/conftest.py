import os

# Test-side only: keep TensorFlow's C++ start-up chatter out of the test logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

"""Declared dependencies: setup.cfg states the Keras and TensorFlow versions the code needs, an older install is
refused, and every private Keras API in use is listed in keras_integration/keras_private.py (the training package's)
or tfmodels/keras_private.py (the model kit's)."""

import ast
import configparser
import os
import re

import keras
import pytest
import tensorflow as tf
from packaging.requirements import Requirement
from packaging.version import Version

from keras_integration import keras_private
from tfmodels import keras_private as kit_private

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("tfmodels", "keras_integration", "serving")
KERAS_SOURCE = os.path.join(os.path.dirname(keras.__file__), "src")
# Keras private methods this project overrides (the rest of its private names are its own, whatever Keras calls
# its own attributes elsewhere).
OVERRIDDEN = {"_maybe_symbolic_build", "_open_name_scope", "_default_save_signature"}  # Keras methods we override


def _install_requires() -> dict[str, Requirement]:
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    lines = [line.strip() for line in parser["options"]["install_requires"].splitlines() if line.strip()]
    return {Requirement(line).name: Requirement(line) for line in lines}


def _sources(skip: str = "") -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        for root, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                path = os.path.join(root, name)
                if name.endswith(".py") and not path.endswith(skip or "\0"):
                    found[os.path.relpath(path, ROOT)] = open(path, encoding="utf-8").read()
    return found


def test_setup_cfg_states_the_minimum_versions_and_the_installed_ones_meet_them():
    requires = _install_requires()
    assert str(requires["keras"].specifier) == f">={keras_private.MIN_KERAS}"
    assert str(requires["tensorflow"].specifier) == f">={keras_private.MIN_TENSORFLOW}"
    # Fails on an installation below what the code needs.
    assert Version(keras.__version__) in requires["keras"].specifier, keras.__version__
    assert Version(tf.__version__) in requires["tensorflow"].specifier, tf.__version__


def test_an_older_keras_is_refused_with_the_fix():
    keras_private.check_version("keras", keras_private.MIN_KERAS, keras_private.MIN_KERAS)
    keras_private.check_version("keras", "3.15.1", keras_private.MIN_KERAS)
    for older in ("3.7.0", "3.8.0rc1", "3.0.5"):
        with pytest.raises(ImportError, match=rf"needs keras>=3\.8\.0, but keras {re.escape(older)} is installed\. "
                                              r"Upgrade it: pip install -U 'keras>=3\.8\.0'"):
            keras_private.check_version("keras", older, keras_private.MIN_KERAS)


def test_every_private_keras_api_goes_through_keras_private():
    sources = _sources()
    private_modules = (os.path.join("keras_integration", "keras_private.py"),
                       os.path.join("tfmodels", "keras_private.py"))
    imports = [path for path, text in sources.items() if re.search(r"\bkeras\.src\b", text)
               and path not in private_modules]
    assert imports == [], f"import keras.src only in the keras_private modules: {imports}"

    ours = set()  # private names this project defines itself (methods, attributes)
    for text in sources.values():
        ours |= set(re.findall(r"def (_[a-z]\w*)\(self", text)) | set(re.findall(r"self\.(_[a-z]\w*)\s*[:=]", text))
    keras_text = "\n".join(open(os.path.join(root, name), encoding="utf-8").read()
                           for root, _, files in os.walk(KERAS_SOURCE) for name in files if name.endswith(".py"))
    keras_private_names = set(re.findall(r"(?:def |self\.)(_[a-z]\w*)", keras_text))
    used = set()
    for path, text in sources.items():
        if path.endswith("keras_private.py"):  # its code only (its docstrings and listing name the others' uses)
            names = [node.attr for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Attribute)]
            used |= {name for name in names if name in keras_private_names}
            continue
        names = re.findall(r"\.(_[a-z]\w*)\b", text) + re.findall(r"(?:get|set|has)attr\([^,]+, \"(_[a-z]\w*)\"", text)
        names += re.findall(r"replace_variable\([^,]+, \"(_[a-z]\w*)\"", text)
        names += [name for name in re.findall(r"def (_[a-z]\w*)\(self", text) if name in OVERRIDDEN]
        used |= {name for name in names if name in keras_private_names and name not in ours - OVERRIDDEN}
    listed_apis = {**keras_private.PRIVATE_APIS, **kit_private.PRIVATE_APIS}
    listed_tf_apis = {**keras_private.PRIVATE_TF_APIS, **kit_private.PRIVATE_TF_APIS}
    assert not set(keras_private.PRIVATE_APIS) & set(kit_private.PRIVATE_APIS)
    listed = set(listed_apis) - {"scale_loss_for_distribution"}
    unlisted = used - listed - set(listed_tf_apis)
    assert unlisted == set(), f"private Keras APIs used but not listed in keras_private.PRIVATE_APIS: {unlisted}"
    assert listed - used == set(), f"listed in keras_private.PRIVATE_APIS but no longer used: {listed - used}"
    assert "def scale_loss_for_distribution" in keras_text
    for name, (where, reason, alternative) in {**listed_apis, **listed_tf_apis}.items():
        assert reason and alternative and name in sources[where], (name, where)

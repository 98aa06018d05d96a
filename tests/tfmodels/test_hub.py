"""Hub downloads through huggingface_hub's real HTTP code from a local Hub server on 127.0.0.1 (tests/hub_server.py)
and from a cache laid out the way huggingface_hub lays it out; uploads through a recording HfApi, where no local
server can stand in. No internet anywhere."""

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import threading
import time
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from keras_integration import PushToHubCallback
from tests.helpers import Case, outputs_equal, run
from tests.hub_server import HubServer
from tests.keras_integration.tiny import tiny_batch, tiny_model
from tfmodels import hub
from tfmodels.checkpoints.safetensors_format import read_header
from tfmodels.errors import CheckpointError

import huggingface_hub
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lay_out_cache(cache_dir, repo_id, source_dir, revision="main", commit=None):
    """Put `source_dir`'s files in the Hub cache as huggingface_hub does: blobs by hash, a snapshot per commit of
    symlinks to them, and refs/<revision> naming the commit."""
    from huggingface_hub.file_download import repo_folder_name

    commit = commit or hashlib.sha1(f"{repo_id}@{revision}@{source_dir}".encode()).hexdigest()
    repo = os.path.join(cache_dir, repo_folder_name(repo_id=repo_id, repo_type="model"))
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    snapshot = os.path.join(repo, "snapshots", commit)
    os.makedirs(snapshot, exist_ok=True)
    for name in os.listdir(source_dir):
        data = open(os.path.join(source_dir, name), "rb").read()
        blob = hashlib.sha256(data).hexdigest()
        with open(os.path.join(repo, "blobs", blob), "wb") as handle:
            handle.write(data)
        os.symlink(os.path.join("..", "..", "blobs", blob), os.path.join(snapshot, name))
    with open(os.path.join(repo, "refs", revision), "w") as handle:
        handle.write(commit)
    return commit


@pytest.fixture
def cache(tmp_path):
    directory = str(tmp_path / "hub-cache")
    lay_out_cache(directory, "org/bert-seqcls", Case("bert_seqcls").path("tf_h5"))
    lay_out_cache(directory, "org/gpt2", Case("gpt2_lm").path("tf_sharded_h5"))
    lay_out_cache(directory, "org/gpt2", Case("gpt2_lm").path("pt_safetensors"), revision="pt")
    commit = lay_out_cache(directory, "org/bert-qa", Case("bert_qa").path("pt_sharded_safetensors"))
    found = {repo.repo_id: sorted(r.commit_hash for r in repo.revisions)
             for repo in huggingface_hub.scan_cache_dir(directory).repos}
    assert sorted(found) == ["org/bert-qa", "org/bert-seqcls", "org/gpt2"] and commit in found["org/bert-qa"]
    return directory


@pytest.mark.parametrize("repo_id, case_name, revision", [("org/bert-seqcls", "bert_seqcls", "main"),
                                                          ("org/gpt2", "gpt2_lm", "main"),
                                                          ("org/gpt2", "gpt2_lm", "pt"),
                                                          ("org/bert-qa", "bert_qa", None)])
def test_from_pretrained_by_repo_id_from_the_cache(cache, repo_id, case_name, revision):
    case = Case(case_name)
    model = case.model_class.from_pretrained(repo_id, revision=revision, cache_dir=cache, local_files_only=True)
    assert model.name_or_path == repo_id
    expected = case.model_class.from_pretrained(case.path("tf_h5"))
    outputs_equal(run(expected, case), run(model, case))
    auto = tfmodels.TFAutoModel.from_pretrained(repo_id, revision=revision, cache_dir=cache, local_files_only=True)
    assert type(auto).__name__ == ("TFGPT2Model" if "gpt2" in repo_id else "TFBertModel")
    config = tfmodels.AutoConfig.from_pretrained(repo_id, revision=revision, cache_dir=cache, local_files_only=True)
    assert config.model_type == case.meta["config_class"][:-6].lower()


def test_only_the_needed_files_are_fetched_in_order(cache, monkeypatch):
    asked = []
    real = hub.fetch

    def recording(repo_id, filename, options):
        asked.append(filename)
        return real(repo_id, filename, options)

    monkeypatch.setattr(hub, "fetch", recording)
    tfmodels.TFGPT2LMHeadModel.from_pretrained("org/gpt2", cache_dir=cache, local_files_only=True)
    shards = sorted(n for n in os.listdir(Case("gpt2_lm").path("tf_sharded_h5")) if n.endswith(".h5"))
    assert asked == ["config.json", "model.safetensors", "model.safetensors.index.json", "tf_model.h5",
                     "tf_model.h5.index.json"] + shards + ["generation_config.json"]


def test_offline_errors_name_the_repo_revision_and_files(cache):
    with pytest.raises(CheckpointError, match=r"repo 'org/bert-seqcls' at revision 'v9'.*config.json.*offline"):
        tfmodels.TFBertModel.from_pretrained("org/bert-seqcls", revision="v9", cache_dir=cache,
                                             local_files_only=True)
    with pytest.raises(CheckpointError, match=r"repo 'org/missing' at revision 'main'"):
        tfmodels.TFBertModel.from_pretrained("org/missing", cache_dir=cache, local_files_only=True)
    with pytest.raises(CheckpointError, match=r"No model weights found in repo 'org/gpt2' at revision 'pt'.*offline"
                                              r".*Looked for: tf_model.h5, tf_model.h5.index.json"):
        tfmodels.TFGPT2LMHeadModel.from_pretrained("org/gpt2", revision="pt", cache_dir=cache,
                                                   local_files_only=True, use_safetensors=False)


def test_hf_hub_offline_environment_uses_the_cache(cache):
    code = ("import tfmodels, numpy as np; "
            f"m = tfmodels.TFBertForSequenceClassification.from_pretrained('org/bert-seqcls', cache_dir={cache!r}); "
            "print('LOADED', m.num_parameters())")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    case = Case("bert_seqcls")
    assert f"LOADED {case.model_class.from_pretrained(case.path('tf_h5')).num_parameters()}" in result.stdout


@pytest.fixture
def server():
    with HubServer() as running:
        running.add_repo("org/bert-seqcls", Case("bert_seqcls").path("tf_h5"))
        running.add_repo("org/gpt2", Case("gpt2_lm").path("pt_safetensors"), revision="pt")
        running.add_repo("org/bert-qa", Case("bert_qa").path("pt_sharded_safetensors"))
        yield running


def test_downloads_from_a_real_local_hub_server(server, tmp_path):
    cache = str(tmp_path / "cache")
    for repo_id, case_name, revision in [("org/bert-seqcls", "bert_seqcls", None), ("org/gpt2", "gpt2_lm", "pt"),
                                         ("org/bert-qa", "bert_qa", None)]:
        case = Case(case_name)
        model = case.model_class.from_pretrained(repo_id, revision=revision, cache_dir=cache,
                                                 endpoint=server.endpoint)
        assert model.name_or_path == repo_id
        outputs_equal(run(case.model_class.from_pretrained(case.path("tf_h5")), case), run(model, case))
    shards = sorted(n for n in os.listdir(Case("bert_qa").path("pt_sharded_safetensors")) if n.endswith(".safetensors"))
    # Metadata by HEAD on /resolve (regular files redirected on the same host, weights to the "CDN"), then GETs.
    asked = [path for method, path in server.requests if method == "HEAD" and path.startswith("/org/bert-qa/")]
    assert asked == [f"/org/bert-qa/resolve/main/{name}" for name in
                     ["config.json", "model.safetensors", "model.safetensors.index.json", *shards]]
    assert sum(method == "GET" and path.startswith("/lfs/") for method, path in server.requests) == 1 + 1 + len(shards)
    info = huggingface_hub.HfApi(endpoint=server.endpoint).model_info("org/bert-qa")
    cached = huggingface_hub.scan_cache_dir(cache)
    assert {r.repo_id: [rev.commit_hash for rev in r.revisions] for r in cached.repos}["org/bert-qa"] == [info.sha]
    assert sorted(s.rfilename for s in info.siblings) == sorted(os.listdir(Case("bert_qa").path(
        "pt_sharded_safetensors")))

    with pytest.raises(CheckpointError, match=r"The Hub has no repo 'org/missing' at revision 'main'"):
        tfmodels.TFBertModel.from_pretrained("org/missing", cache_dir=cache, endpoint=server.endpoint)
    with pytest.raises(CheckpointError, match=r"Revision 'v9' does not exist in repo 'org/bert-seqcls'"):
        tfmodels.TFBertModel.from_pretrained("org/bert-seqcls", revision="v9", cache_dir=cache,
                                             endpoint=server.endpoint)
    with pytest.raises(CheckpointError, match=r"No model weights found in repo 'org/gpt2' at revision 'pt'\. "):
        tfmodels.TFGPT2LMHeadModel.from_pretrained("org/gpt2", revision="pt", cache_dir=cache, use_safetensors=False,
                                                   endpoint=server.endpoint)


def test_an_outage_is_not_reported_as_a_missing_file(server, tmp_path, caplog, monkeypatch):
    # huggingface_hub retries a file it does not have 5 times, waiting 1+2+4+8+8 s: keep its retries, not the waits.
    waits = []
    monkeypatch.setattr(importlib.import_module("huggingface_hub.utils._http"), "time",
                        types.SimpleNamespace(sleep=waits.append))
    cache = str(tmp_path / "cache")
    case = Case("bert_seqcls")
    online = case.model_class.from_pretrained("org/bert-seqcls", cache_dir=cache, endpoint=server.endpoint)
    empty = tmp_path / "empty"
    empty.mkdir()
    server.add_repo("org/empty", empty)
    with pytest.raises(CheckpointError, match=r"repo 'org/empty' at revision 'main' has no config.json\.$"):
        tfmodels.AutoConfig.from_pretrained("org/empty", cache_dir=cache, endpoint=server.endpoint)
    partial = tmp_path / "gpt2-partial"  # cached, but never asked online; no generation_config.json
    partial.mkdir()
    for name in ("config.json", "tf_model.h5"):
        shutil.copy(os.path.join(Case("gpt2_lm").path("tf_h5"), name), partial / name)
    lay_out_cache(cache, "org/gpt2-cached", str(partial))
    server.down_with = 503
    with pytest.raises(hub.HubUnreachableError, match=r"to get config.json from repo 'org/bert-qa' .*\(HfHubHTTPError: "
                                                      r"Server error '503 Service Unavailable' for url '\S+/org/bert-qa/resolve/main/config.json'\), "
                                                      r"and the local Hub cache does not have it\. This is a "
                                                      r"connection or Hub problem, not a missing file"):
        tfmodels.AutoConfig.from_pretrained("org/bert-qa", cache_dir=cache, endpoint=server.endpoint)
    server.stop()

    with pytest.raises(hub.HubUnreachableError, match=rf"Could not reach the Hub at {server.endpoint} to get "
                                                      r"config.json from repo 'org/bert-qa' at revision 'main' "
                                                      r"\(ConnectError: .*not a missing file.*HF_HUB_OFFLINE=1"):
        tfmodels.TFBertForQuestionAnswering.from_pretrained("org/bert-qa", cache_dir=cache, endpoint=server.endpoint)
    assert waits == [1, 2, 4, 8, 8] * 2  # both outages were retried by huggingface_hub before we reported them
    # Everything already downloaded still loads: the cache remembers which files the repo lacks.
    again = case.model_class.from_pretrained("org/bert-seqcls", cache_dir=cache, endpoint=server.endpoint)
    outputs_equal(run(online, case), run(again, case))
    # Where the cache cannot tell whether the repo has a preferred layout, the cached one is used, with a warning.
    with caplog.at_level("WARNING", logger="tfmodels.hub"):
        tfmodels.TFGPT2LMHeadModel.from_pretrained("org/gpt2-cached", cache_dir=cache, endpoint=server.endpoint)
    assert "Could not reach the Hub to look for model.safetensors, model.safetensors.index.json in " \
           "org/gpt2-cached; using tf_model.h5 from the local cache instead." in caplog.text
    assert "to get generation_config.json from repo 'org/gpt2-cached' at revision 'main' (ConnectError" in caplog.text
    assert caplog.text.count("Going on without it.") == 1  # an optional file does not stop the load


class RecordingApi:
    """Stands in for huggingface_hub.HfApi: records calls and keeps the uploaded files as the 'remote' repo."""

    def __init__(self, remote_dir, delay=0.0):
        self.remote_dir = remote_dir
        self.delay = delay
        self.calls = []
        self.folders = []  # the local folder each commit was uploaded from
        self.lock = threading.Lock()

    def __call__(self, token=None):
        self.calls.append(("HfApi", token))
        return self

    def create_repo(self, repo_id, private=None, exist_ok=False):
        self.calls.append(("create_repo", repo_id, private, exist_ok))

    def list_repo_files(self, repo_id, revision=None):
        return sorted(os.listdir(self.remote_dir)) if os.path.isdir(self.remote_dir) else []

    def create_commit(self, repo_id, operations, commit_message, revision=None, create_pr=False):
        time.sleep(self.delay)
        with self.lock:
            self.folders.append(os.path.commonpath([op.path_or_fileobj for op in operations
                                                    if hasattr(op, "path_or_fileobj")] or ["/"]))
            added = sorted(op.path_in_repo for op in operations if type(op).__name__ == "CommitOperationAdd")
            deleted = sorted(op.path_in_repo for op in operations if type(op).__name__ == "CommitOperationDelete")
            for op in operations:
                target = os.path.join(self.remote_dir, op.path_in_repo)
                if type(op).__name__ == "CommitOperationAdd":
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copyfile(op.path_or_fileobj, target)
                else:
                    os.remove(target)
            self.calls.append(("create_commit", repo_id, commit_message, revision, create_pr, added, deleted,
                               time.perf_counter()))
        return f"commit {len(self.commits)}"

    @property
    def commits(self):
        return [c for c in self.calls if c[0] == "create_commit"]


def test_push_to_hub_uploads_exactly_this_save_and_deletes_stale_shards(tmp_path, monkeypatch):
    remote = tmp_path / "remote"
    remote.mkdir()
    for stale in ("tf_model-00001-of-00002.h5", "tf_model-00002-of-00002.h5", "tf_model.h5.index.json"):
        (remote / stale).write_text("old")
    (remote / "tokenizer.json").write_text("{}")
    api = RecordingApi(str(remote))
    monkeypatch.setattr(hub, "HfApi", api)
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    result = model.push_to_hub("me/bert", private=True, create_pr=True, revision="dev", token="secret",
                               license="apache-2.0", dataset_tags="imdb")
    assert result == "commit 1"
    assert api.calls[:2] == [("HfApi", "secret"), ("create_repo", "me/bert", True, True)]
    (_, repo_id, message, revision, create_pr, added, deleted, _), = api.commits
    assert (repo_id, message, revision, create_pr) == ("me/bert", "Upload model", "dev", True)
    assert added == ["README.md", "config.json", "model.safetensors"]  # the PyTorch layout, which the Hub reads
    assert read_header(str(remote / "model.safetensors"))[1] == {"format": "pt"}
    assert deleted == ["tf_model-00001-of-00002.h5", "tf_model-00002-of-00002.h5", "tf_model.h5.index.json"]
    assert sorted(os.listdir(remote)) == ["README.md", "config.json", "model.safetensors", "tokenizer.json"]
    card = huggingface_hub.ModelCard.load(str(remote / "README.md"))
    assert card.data.license == "apache-2.0" and card.data.datasets == ["imdb"]  # the card arguments are used
    # The weights are in transformers' layout: the Hub offers transformers' snippet and widget for them.
    assert card.data.library_name == "transformers" and "tfmodels" in card.data.tags
    assert "PyTorch layout of transformers" in card.text
    reloaded = case.model_class.from_pretrained(str(remote))
    outputs_equal(run(model, case), run(reloaded, case))


def test_save_pretrained_push_and_config_push(tmp_path, monkeypatch):
    api = RecordingApi(str(tmp_path / "remote"))
    (tmp_path / "remote").mkdir()
    monkeypatch.setattr(hub, "HfApi", api)
    case = Case("gpt2_lm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    model.save_pretrained(tmp_path / "local", safe_serialization=True, max_shard_size="20KB", push_to_hub=True,
                          repo_id="me/gpt2", commit_message="first")
    (_, repo_id, message, _, _, added, deleted, _), = api.commits
    assert repo_id == "me/gpt2" and message == "first" and deleted == []
    assert added == sorted(os.listdir(tmp_path / "local"))
    assert "model.safetensors.index.json" in added
    model.config.push_to_hub("me/gpt2")
    assert api.commits[-1][2] == "Upload config" and api.commits[-1][5] == ["config.json"]


def test_model_card_from_a_real_fit_history(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_model("TFBertForSequenceClassification")
    data = tf.data.Dataset.from_tensor_slices(tiny_batch("TFBertForSequenceClassification")).batch(8)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), metrics=["accuracy"])
    history = model.fit(data, validation_data=data, epochs=3, verbose=0).history
    path = model.create_model_card(tmp_path, "tiny-bert", language="en", license="mit", tags=["demo"],
                                   finetuned_from="google/bert_uncased_L-2_H-128_A-2", dataset_tags="imdb")
    card = huggingface_hub.ModelCard.load(path)
    data_dict = card.data.to_dict()
    assert data_dict["library_name"] == "tfmodels" and data_dict["license"] == "mit"
    assert data_dict["language"] == ["en"] and data_dict["datasets"] == ["imdb"]
    assert data_dict["base_model"] == "google/bert_uncased_L-2_H-128_A-2"
    assert data_dict["pipeline_tag"] == "text-classification" and "demo" in data_dict["tags"]
    results = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert results == {"val_accuracy": pytest.approx(history["val_accuracy"][-1]),
                       "val_loss": pytest.approx(history["val_loss"][-1])}
    huggingface_hub.ModelCardData(**data_dict)  # validates with huggingface_hub's own card data class
    table = [line for line in card.text.splitlines() if line.startswith("| ") and "epoch" not in line]
    assert len(table) == 3
    best = int(np.argmin(history["val_loss"]))
    for epoch, line in enumerate(table):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == f"{epoch}" + (" (best)" if epoch == best else "")
        assert float(cells[1]) == pytest.approx(history["loss"][epoch], abs=1e-4)
        assert float(cells[3]) == pytest.approx(history["val_loss"][epoch], abs=1e-4)
    assert "- learning_rate: 0.002" in card.text and "- training_precision: float32" in card.text
    empty = tiny_model("TFBertForSequenceClassification")
    card = huggingface_hub.ModelCard.load(empty.create_model_card(tmp_path / "empty", "untrained"))
    assert "## Training results" not in card.text and card.data.to_dict().get("model-index") is None


def test_push_to_hub_callback_commits_in_order_without_blocking_training(tmp_path, monkeypatch):
    api = RecordingApi(str(tmp_path / "remote"), delay=1.5)
    (tmp_path / "remote").mkdir()
    monkeypatch.setattr(hub, "HfApi", api)
    keras.utils.set_random_seed(0)
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = tf.data.Dataset.from_tensor_slices(tiny_batch("TFBertForSequenceClassification")).batch(8)
    epoch_ends = []
    timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch_ends.append(time.perf_counter()))
    callback = PushToHubCallback(str(tmp_path / "out"), hub_model_id="me/tiny", checkpoint=True, license="mit")
    model.fit(data, epochs=3, verbose=0, callbacks=[timer, callback])
    commits = api.commits
    assert [c[2] for c in commits] == [f"Training in progress, epoch {i}" for i in (1, 2, 3)]
    assert epoch_ends[-1] < commits[0][7]  # all epochs ended before the first slow upload finished
    assert "checkpoint/weights.npz" in commits[-1][5] and "README.md" in commits[-1][5]
    assert "model.safetensors" in commits[-1][5]  # the PyTorch layout, which transformers and the Hub read
    assert read_header(str(tmp_path / "remote" / "model.safetensors"))[1] == {"format": "pt"}
    card = huggingface_hub.ModelCard.load(str(tmp_path / "remote" / "README.md"))
    assert card.data.license == "mit" and card.text.count(" (best)") == 1
    resumed = tiny_model("TFBertForSequenceClassification")
    resumed.compile(optimizer=keras.optimizers.Adam(1e-2))
    assert resumed.load_repo_checkpoint(str(tmp_path / "remote")) == {"epoch": 2, "history": {}}
    for a, b in zip(model.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_push_to_hub_callback_cleans_up_when_fit_raises_and_snapshots_next_to_output_dir(tmp_path, monkeypatch):
    api = RecordingApi(str(tmp_path / "remote"), delay=1.0)
    (tmp_path / "remote").mkdir()
    monkeypatch.setattr(hub, "HfApi", api)
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = tf.data.Dataset.from_tensor_slices(tiny_batch("TFBertForSequenceClassification")).batch(8)

    def crash(epoch, logs):
        if epoch == 1:
            raise RuntimeError("simulated crash in epoch 2")

    callback = PushToHubCallback(str(tmp_path / "out"), hub_model_id="me/tiny")
    with pytest.raises(RuntimeError, match="simulated crash"):
        model.fit(data, epochs=3, verbose=0, callbacks=[callback, keras.callbacks.LambdaCallback(on_epoch_end=crash)])
    assert [t.name for t in threading.enumerate() if t.name == "push-to-hub"]  # uploads still running
    deadline = time.monotonic() + 30
    while any(t.name == "push-to-hub" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name == "push-to-hub"]  # the upload threads ended
    assert [c[2] for c in api.commits] == ["Training in progress, epoch 1", "Training in progress, epoch 2"]
    # Snapshots were made beside the output directory (same filesystem, hard links work), and are gone.
    assert len(api.folders) == 2 and all(os.path.dirname(folder) == str(tmp_path) for folder in api.folders)
    assert all(os.path.basename(folder).startswith(".out-push-") for folder in api.folders)
    assert sorted(os.listdir(tmp_path)) == ["out", "remote"]
    assert sorted(os.listdir(tmp_path / "remote")) == sorted(os.listdir(tmp_path / "out"))

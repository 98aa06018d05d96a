"""The Hugging Face Hub: downloads into the standard cache and uploads, all through `huggingface_hub`.

Downloads reuse files other HF tools put in the cache, honour `HF_HUB_OFFLINE=1`, `local_files_only`, `HF_ENDPOINT`
and `endpoint=`, and show huggingface_hub's progress bars. A file the repo lacks and a Hub that cannot be reached are
told apart (`HubUnreachableError`). Uploads go through `HfApi` (the one boundary tests replace): one commit that adds
this save's files and deletes the remote weight files it no longer uses.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from typing import Any

from tfmodels.checkpoints.sharding import shard_names
from tfmodels.errors import CheckpointError
from tfmodels.resolve import ResolvedCheckpoint, weight_candidates

logger = logging.getLogger(__name__)
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")
WEIGHT_FILE = re.compile(r"^(tf_model|model|pytorch_model)(-\d{5}-of-\d{5})?\.(h5|safetensors|bin)(\.index\.json)?$")


def HfApi(*args: Any, **kwargs: Any):  # noqa: N802  (named like the class it builds; tests replace it)
    """The `huggingface_hub.HfApi` every upload goes through."""
    from huggingface_hub import HfApi as _HfApi

    return _HfApi(*args, **kwargs)


@dataclasses.dataclass
class HubOptions:
    """Where and how to fetch files from the Hub."""

    revision: str | None = None
    cache_dir: str | None = None
    force_download: bool = False
    local_files_only: bool = False
    token: str | bool | None = None
    subfolder: str = ""
    endpoint: str | None = None  # default: HF_ENDPOINT, else https://huggingface.co

    @classmethod
    def pop_from(cls, kwargs: dict[str, Any]) -> "HubOptions":
        """Take the Hub keyword arguments out of `kwargs`."""
        fields = [field.name for field in dataclasses.fields(cls)]
        return cls(**{name: kwargs.pop(name) for name in fields if name in kwargs})

    @property
    def offline(self) -> bool:
        return self.local_files_only or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


class HubUnreachableError(CheckpointError):
    """The Hub could not be asked for a file (no connection, a Hub error) and the local cache does not have it:
    unlike a file the repo lacks, trying again later may work."""

    def __init__(self, message: str, path_in_repo: str) -> None:
        super().__init__(message)
        self.path_in_repo = path_in_repo


def is_repo_id(path: str | os.PathLike) -> bool:
    """True for `name` or `org/name` that is not an existing local path."""
    path = os.fspath(path)
    return not os.path.exists(path) and bool(REPO_ID.match(path)) and not path.endswith((".json", ".h5"))


def _describe(repo_id: str, options: HubOptions) -> str:
    where = f"repo '{repo_id}' at revision '{options.revision or 'main'}'"
    return where + (f", subfolder '{options.subfolder}'" if options.subfolder else "")


def fetch(repo_id: str, filename: str, options: HubOptions) -> str | None:
    """Local path of `filename` from the repo (downloaded or cached), or None if the repo lacks it (offline: if the
    cache lacks it). Raises `HubUnreachableError` when the Hub cannot be reached and the cache cannot answer.

    huggingface_hub raises `LocalEntryNotFoundError` both offline and when the Hub is unreachable; the two are told
    apart here, so that an outage is not reported as a missing file.
    """
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return hf_hub_download(
            repo_id, filename, subfolder=options.subfolder or None, revision=options.revision,
            cache_dir=options.cache_dir, force_download=options.force_download,
            local_files_only=options.offline, token=options.token, library_name="tfmodels",
            endpoint=options.endpoint,
        )
    except RepositoryNotFoundError:
        raise CheckpointError(f"The Hub has no {_describe(repo_id, options)} (or it is private: pass token=...).")\
            from None
    except RevisionNotFoundError:
        raise CheckpointError(f"Revision '{options.revision}' does not exist in repo '{repo_id}'.") from None
    except RemoteEntryNotFoundError:
        return None  # the Hub answered: the repo has no such file
    except LocalEntryNotFoundError as err:
        if options.offline:
            return None
        path_in_repo = f"{options.subfolder}/{filename}" if options.subfolder else filename
        cached = try_to_load_from_cache(repo_id, path_in_repo, cache_dir=options.cache_dir, revision=options.revision)
        if cached is not None and not isinstance(cached, str):
            return None  # an earlier answer of the Hub, cached: the repo has no such file
        cause = err.__cause__ or err
        reason = (str(cause).splitlines() or [""])[0]  # httpx adds a second line with a link to MDN
        raise HubUnreachableError(
            f"Could not reach the Hub at {options.endpoint or constants.ENDPOINT} to get {path_in_repo} from "
            f"{_describe(repo_id, options)} ({type(cause).__name__}: {reason}), and the local Hub cache does not have "
            "it. This is a connection or Hub problem, not a missing file: check your network (and HF_ENDPOINT), "
            "try again, or set HF_HUB_OFFLINE=1 to use only files already in the cache.", path_in_repo
        ) from err
    except EntryNotFoundError:
        return None


def fetch_optional(repo_id: str, filename: str, options: HubOptions) -> str | None:
    """`fetch` for a file a model can do without (`generation_config.json`): None, with a warning, when the Hub cannot
    be reached, as the reference does for such files.

    Example:
        >>> fetch_optional("gpt2", "generation_config.json", HubOptions())
    """
    try:
        return fetch(repo_id, filename, options)
    except HubUnreachableError as err:
        logger.warning("%s Going on without it.", err)
        return None


def resolve_remote(repo_id: str, options: HubOptions, from_pt: bool = False,
                   use_safetensors: bool | None = None) -> ResolvedCheckpoint:
    """Fetch only the weight files needed, in the local order: the first layout the repo has (for a sharded
    checkpoint, its index first and then the shards it lists)."""
    candidates = weight_candidates(from_pt, use_safetensors)
    unreachable: list[HubUnreachableError] = []
    for name, kind, sharded in candidates:
        try:
            path = fetch(repo_id, name, options)
        except HubUnreachableError as err:
            unreachable.append(err)  # as the reference: a later layout already in the cache may still do
            continue
        if path is None:
            continue
        if unreachable:
            logger.warning("Could not reach the Hub to look for %s in %s; using %s from the local cache instead.",
                           ", ".join(err.path_in_repo for err in unreachable), repo_id, name)
        if not sharded:
            return ResolvedCheckpoint(kind, [path])
        files = []
        for shard in shard_names(path)[0]:
            shard_path = fetch(repo_id, shard, options)
            if shard_path is None:
                raise CheckpointError(f"{_describe(repo_id, options)} lacks shard {shard!r}, which its index {name} "
                                      "requires.")
            files.append(shard_path)
        return ResolvedCheckpoint(kind, files, path)
    if unreachable:
        raise unreachable[0]
    mode = " (offline: only the local Hub cache was searched)" if options.offline else ""
    raise CheckpointError(f"No model weights found in {_describe(repo_id, options)}{mode}. Looked for: "
                          f"{', '.join(name for name, _, _ in candidates)}.")


def fetch_config(repo_id: str, options: HubOptions) -> str:
    """Local path of the repo's `config.json`."""
    path = fetch(repo_id, "config.json", options)
    if path is None:
        mode = " (offline: only the local Hub cache was searched)" if options.offline else ""
        raise CheckpointError(f"{_describe(repo_id, options)} has no config.json{mode}.")
    return path


def upload_folder(folder: str, repo_id: str, commit_message: str, token: str | bool | None = None,
                  private: bool | None = None, create_pr: bool = False, revision: str | None = None):
    """Create the repo if needed and upload every file of `folder` in one commit, deleting the repo's weight files
    that the folder does not have (stale shards). Returns the `CommitInfo`.

    Example:
        >>> upload_folder("out", "me/my-model", "Upload model")
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import RevisionNotFoundError

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    local = []
    for root, directories, files in os.walk(folder):
        directories[:] = [d for d in directories if not d.startswith(".")]
        local += [os.path.relpath(os.path.join(root, f), folder).replace(os.sep, "/") for f in files
                  if not f.startswith(".")]
    try:
        remote = api.list_repo_files(repo_id, revision=revision)
    except RevisionNotFoundError:
        remote = []
    stale = [name for name in remote if name not in local and "/" not in name
             and WEIGHT_FILE.match(name)]
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=os.path.join(folder, name))
                  for name in sorted(local)]
    operations += [CommitOperationDelete(path_in_repo=name) for name in sorted(stale)]
    return api.create_commit(repo_id, operations=operations, commit_message=commit_message, revision=revision,
                             create_pr=create_pr)


class HubMixin:
    """`TFPreTrainedModel`'s Hub methods: the model card, uploading a saved folder, `push_to_hub`."""

    def create_model_card(self, output_dir: str | os.PathLike, model_name: str, language=None, license=None,
                          tags=None, finetuned_from=None, tasks=None, dataset_tags=None, dataset=None,
                          dataset_args=None, **kwargs: Any) -> str:
        """Write `output_dir/README.md` from this model and its last `fit` history; see
        `keras_integration.model_card.create_model_card`. When `output_dir` holds a save in the PyTorch layout, the
        card's `library_name` is `transformers`, so that the Hub offers transformers' snippet and widget.

        Example:
            >>> model.create_model_card("out", "my-model", license="apache-2.0", dataset_tags="imdb")
        """
        from keras_integration.model_card import create_model_card

        if finetuned_from is None and self.name_or_path and not os.path.isdir(self.name_or_path):
            finetuned_from = self.name_or_path  # a Hub id we started from
        from tfmodels.checkpoints.writer import holds_pytorch_layout

        kwargs.setdefault("library_name", "transformers" if holds_pytorch_layout(os.fspath(output_dir)) else "tfmodels")
        return create_model_card(self, output_dir, model_name, language=language, license=license, tags=tags,
                                 finetuned_from=finetuned_from, tasks=tasks, dataset_tags=dataset_tags,
                                 dataset=dataset, dataset_args=dataset_args, **kwargs)

    def upload_folder_to_hub(self, folder: str | os.PathLike, repo_id: str, commit_message: str = "Upload model",
                             token: str | bool | None = None, private: bool | None = None, create_pr: bool = False,
                             revision: str | None = None):
        """Upload a saved folder in one commit (stale remote weight files deleted); see `tfmodels.hub`."""
        return upload_folder(os.fspath(folder), repo_id, commit_message, token=token, private=private,
                             create_pr=create_pr, revision=revision)

    def push_to_hub(self, repo_id: str, use_temp_dir: bool | None = None, commit_message: str | None = None,
                    private: bool | None = None, max_shard_size: int | str = "10GB", token: str | bool | None = None,
                    create_pr: bool = False, revision: str | None = None, safe_serialization: bool = True,
                    **model_card_kwargs: Any):
        """Save the model (config, weights, model card) and upload it to `repo_id` in one commit; create the repo
        if needed. Returns the commit info. Model-card arguments (`license`, `dataset_tags`, ...) go to the card.

        The weights go up as safetensors in the PyTorch layout (what transformers, vLLM and the Hub's widgets and
        snippets read); `safe_serialization=False` uploads `tf_model.h5` instead.

        With `use_temp_dir=False` the files are saved in a local directory named after the repo (kept);
        otherwise in a temporary one.

        Example:
            >>> model.push_to_hub("me/bert-imdb", license="apache-2.0", dataset_tags="imdb")
        """
        import tempfile

        name = repo_id.split("/")[-1]

        def save_and_upload(folder: str):
            self.save_pretrained(folder, max_shard_size=max_shard_size, safe_serialization=safe_serialization)
            self.create_model_card(folder, model_card_kwargs.pop("model_name", name), **model_card_kwargs)
            return self.upload_folder_to_hub(folder, repo_id, commit_message or "Upload model", token=token,
                                             private=private, create_pr=create_pr, revision=revision)

        if use_temp_dir is False:
            return save_and_upload(name)
        with tempfile.TemporaryDirectory() as folder:
            return save_and_upload(folder)

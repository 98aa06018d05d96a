"""What ties a model to training with Keras: datasets, training checkpoints, LoRA adapters and gradient
checkpointing. Part of `TFPreTrainedModel`; the work is done in `keras_integration` and `tfmodels.lora`."""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from keras_integration.callbacks import load_training_checkpoint, save_training_checkpoint
from keras_integration.data import prepare_tf_dataset
from tfmodels import keras_private, lora


class TrainingGlue:
    """`TFPreTrainedModel`'s training methods (the reference's names, and LoRA's)."""

    def prepare_tf_dataset(self, dataset, batch_size: int = 8, shuffle: bool = True, tokenizer=None,
                           collate_fn=None, collate_fn_args=None, drop_remainder: bool | None = None,
                           prefetch: bool = True, seed: int | None = None,
                           pad_to_multiple_of: int | None = None) -> tf.data.Dataset:
        """A `tf.data.Dataset` for `fit` from a `datasets.Dataset`; see `keras_integration.prepare_tf_dataset`.

        Example:
            >>> train = model.prepare_tf_dataset(tokenized["train"], batch_size=16)
        """
        return prepare_tf_dataset(self, dataset, batch_size=batch_size, shuffle=shuffle, tokenizer=tokenizer,
                                  collate_fn=collate_fn, collate_fn_args=collate_fn_args,
                                  drop_remainder=drop_remainder, prefetch=prefetch, seed=seed,
                                  pad_to_multiple_of=pad_to_multiple_of)

    def save_training_checkpoint(self, directory: str, epoch: int) -> None:
        """Save weights, optimizer state and epoch for `load_repo_checkpoint` (see `TrainingCheckpoint`)."""
        save_training_checkpoint(self, directory, epoch)

    def load_repo_checkpoint(self, repo_path_or_name: str) -> dict[str, int]:
        """Restore a training checkpoint (a directory, or a repo clone holding `checkpoint/`); return
        `{"epoch": n}`, so that `fit(..., initial_epoch=n + 1)` continues the run.

        Example:
            >>> model.compile(optimizer=keras.optimizers.Adam(3e-5))
            >>> epoch = model.load_repo_checkpoint("run/checkpoint")["epoch"]
        """
        directory = os.fspath(repo_path_or_name)
        nested = os.path.join(directory, "checkpoint")
        if os.path.isdir(nested):
            directory = nested
        return load_training_checkpoint(self, directory)

    def enable_lora(self, rank: int, target_modules: list[str] | str, alpha: float | None = None,
                    modules_to_save: list[str] | None = None) -> list[str]:
        """Add LoRA adapters (Keras' `Dense.enable_lora`, scale `alpha / rank`) to the projections named by
        `target_modules` (PEFT's names: `["q_proj", "v_proj"]`, `["query", "value"]`, or a regex over the PyTorch
        module path) and freeze every other weight but `modules_to_save`; see `tfmodels.lora`. Returns the adapted
        module paths. After a `fit`, `compile()` again (with a new optimizer) before training the adapters.

        Example:
            >>> model.enable_lora(8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], alpha=16)
        """
        return lora.enable_lora(self, rank, target_modules, alpha=alpha, modules_to_save=modules_to_save)

    def load_adapter(self, adapter_path: str | os.PathLike, **hub_options: Any) -> list[str]:
        """Load a LoRA adapter in PEFT's layout (written by PEFT or by `save_pretrained(..., adapter_only=True)`),
        from a directory or a Hub repo id (`revision`, `cache_dir`, `local_files_only`, `token`, ...), onto this
        base model; returns the adapted module paths.

        Example:
            >>> model = TFAutoModelForCausalLM.from_pretrained("base"); model.load_adapter("org/adapter")
        """
        return lora.load_adapter(self, adapter_path, **hub_options)

    def merge_lora(self) -> list[str]:
        """Fold the LoRA adapters into the base kernels and remove them (a plain model again, for `save_pretrained`
        and the serving export); returns the merged module paths.

        Example:
            >>> model.merge_lora(); model.save_pretrained("merged")
        """
        return lora.merge_lora(self)

    def _transformer_stacks(self) -> list:
        """The model's `TransformerStack`s (none for a model not built from the kit)."""
        from tfmodels.layers.transformer import TransformerStack

        return [layer for layer in keras_private.sublayers(self) if isinstance(layer, TransformerStack)]

    def gradient_checkpointing_enable(self) -> None:
        """Recompute each transformer layer's activations in the backward pass instead of keeping them: less
        memory in `fit`, at the cost of one more forward pass per layer. Applies while training, without a
        key/value cache or attention outputs. Raises NotImplementedError for a model without a `TransformerStack`.

        Example:
            >>> model.gradient_checkpointing_enable(); model.fit(train)
        """
        stacks = self._transformer_stacks()
        if not stacks:
            raise NotImplementedError(f"{type(self).__name__} has no TransformerStack; gradient checkpointing "
                                      "works on the architectures built from the kit (tfmodels.layers.transformer).")
        for stack in stacks:
            stack.gradient_checkpointing = True
        lora.reset_compiled_functions(self)

    def gradient_checkpointing_disable(self) -> None:
        """Keep activations for the backward pass again (the default; nothing to do without a TransformerStack)."""
        for stack in self._transformer_stacks():
            stack.gradient_checkpointing = False
        lora.reset_compiled_functions(self)

    @property
    def is_gradient_checkpointing(self) -> bool:
        """Whether `gradient_checkpointing_enable()` is in effect (False for a model without a TransformerStack)."""
        return any(getattr(stack, "gradient_checkpointing", False) for stack in self._transformer_stacks())

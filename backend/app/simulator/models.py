"""The fake model catalogue: what is installed, what the fake registry can pull, and how each model
is rendered in /api/tags, /api/ps and /api/show."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from app.simulator.names import ModelName, parse_name
from app.simulator.timefmt import rfc3339

COMPLETION, EMBEDDING, TOOLS, THINKING, VISION = "completion", "embedding", "tools", "thinking", "vision"
MODELS_DIR = "/root/.ollama/models"  # where a real Ollama keeps models; shown in modelfiles and errors
BLOB_DIR = f"{MODELS_DIR}/blobs"


@dataclass(frozen=True)
class Spec:
    """What a model family looks like: enough for the fields clients read."""

    family: str
    parameter_size: str
    quantization: str
    size: int
    context_length: int
    embedding_length: int
    capabilities: tuple[str, ...]
    template: str = "{{ .System }}\n{{ .Prompt }}"
    parameters: dict[str, Any] = field(default_factory=dict)
    # Only models that use Ollama's "harmony" parser (gpt-oss) take think levels ("low" … "high");
    # any other model answers 400 to a level (routes.go: `think value %q is not supported`).
    think_levels: bool = False


_CHAT_TEMPLATE = "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}</s>\n{{ end }}<|assistant|>\n"

# The fake registry: a pull of any valid name whose model part is here succeeds.
REGISTRY: dict[str, Spec] = {
    "tinyllama": Spec(
        "llama",
        "1B",
        "Q4_0",
        637_700_138,
        2048,
        2048,
        (COMPLETION,),
        _CHAT_TEMPLATE,
        {"stop": ["<|system|>", "<|user|>", "<|assistant|>", "</s>"]},
    ),
    "llama3.2": Spec(
        "llama",
        "3.2B",
        "Q4_K_M",
        2_019_393_189,
        131_072,
        3072,
        (COMPLETION, TOOLS),
        _CHAT_TEMPLATE,
        {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
    ),
    "qwen2.5": Spec(
        "qwen2",
        "494.03M",
        "Q4_K_M",
        397_821_319,
        32_768,
        896,
        (COMPLETION, TOOLS),
        _CHAT_TEMPLATE,
        {"stop": ["<|im_start|>", "<|im_end|>"]},
    ),
    "phi3": Spec(
        "phi3",
        "3.8B",
        "Q4_0",
        2_176_178_913,
        131_072,
        3072,
        (COMPLETION,),
        _CHAT_TEMPLATE,
        {"stop": ["<|end|>", "<|user|>", "<|assistant|>"]},
    ),
    "mistral": Spec(
        "llama",
        "7.2B",
        "Q4_K_M",
        4_372_824_384,
        32_768,
        4096,
        (COMPLETION, TOOLS),
        _CHAT_TEMPLATE,
        {"stop": ["[INST]", "[/INST]"]},
    ),
    "qwen3": Spec(
        "qwen3",
        "751.63M",
        "Q4_K_M",
        522_653_767,
        40_960,
        1024,
        (COMPLETION, TOOLS, THINKING),
        _CHAT_TEMPLATE,
        {"stop": ["<|im_start|>", "<|im_end|>"], "temperature": 0.6, "top_k": 20, "top_p": 0.95},
    ),
    "gpt-oss": Spec(
        "gptoss",
        "20.9B",
        "MXFP4",
        13_780_173_724,
        131_072,
        2880,
        (COMPLETION, TOOLS, THINKING),
        _CHAT_TEMPLATE,
        {"temperature": 1},
        think_levels=True,
    ),
    "gemma3": Spec(
        "gemma3",
        "4.3B",
        "Q4_K_M",
        3_338_801_804,
        131_072,
        2560,
        (COMPLETION, VISION),
        _CHAT_TEMPLATE,
        {"stop": ["<end_of_turn>"], "temperature": 1, "top_k": 64, "top_p": 0.95},
    ),
    "llava": Spec(
        "llama",
        "7B",
        "Q4_0",
        4_733_363_377,
        32_768,
        4096,
        (COMPLETION, VISION),
        _CHAT_TEMPLATE,
        {"stop": ["[INST]", "[/INST]"]},
    ),
    "nomic-embed-text": Spec(
        "nomic-bert", "137M", "F16", 274_302_450, 2048, 768, (EMBEDDING,), "{{ .Prompt }}", {"num_ctx": 8192}
    ),
}
INSTALLED_BY_DEFAULT = (
    "tinyllama:latest",
    "llama3.2:latest",
    "qwen2.5:0.5b",
    "nomic-embed-text:latest",
    "qwen3:0.6b",  # thinking and tools
    "gemma3:4b",  # vision
)
# A model made by /api/create from files alone: nothing is known about it, so it looks like a small llama.
_FROM_FILES = dataclasses.replace(REGISTRY["tinyllama"], parameter_size="unknown")


def _sha256(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


@dataclass
class ModelEntry:
    """One installed model."""

    name: ModelName
    spec: Spec
    modified_at: float
    parent: str = ""
    system: str = ""
    license: str = ""
    template: str | None = None  # None: the family's template
    quantization: str | None = None  # None: the family's level
    parameters: dict[str, Any] = field(default_factory=dict)
    adapters: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # the key of the model this is a copy of (/api/copy): a copy shares its manifest

    @property
    def key(self) -> str:
        return self.name.key

    @property
    def digest(self) -> str:
        manifest = self.origin or self.key
        return _sha256("manifest", manifest, self.parent, sorted(self.adapters.items()), sorted(self.files.items()))

    def layers(self) -> list[tuple[str, int]]:
        """(sha256 hex, size) per layer: weights, template, license, params, like a pull shows."""
        weights = self.spec.size - 12_000
        return [
            (_sha256("weights", self.spec.family, self.spec.parameter_size, self.spec.quantization), weights),
            (_sha256("template", self.effective_template), 98),
            (_sha256("license", self.name.model.lower()), 11_304),
            (_sha256("params", json.dumps(self.effective_parameters, sort_keys=True)), 110),
        ]

    @property
    def effective_template(self) -> str:
        return self.spec.template if self.template is None else self.template

    @property
    def effective_parameters(self) -> dict[str, Any]:
        return {**self.spec.parameters, **self.parameters}

    def has(self, capability: str) -> bool:
        return capability in self.spec.capabilities


def entry_for_registry_pull(name: ModelName, now: float) -> ModelEntry | None:
    spec = REGISTRY.get(name.model.lower())
    return ModelEntry(name=name, spec=spec, modified_at=now) if spec else None


def entry_from_files(name: ModelName, now: float) -> ModelEntry:
    return ModelEntry(name=name, spec=_FROM_FILES, modified_at=now)


class Catalogue:
    """The installed models, looked up case-insensitively."""

    def __init__(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._models: dict[str, ModelEntry] = {}
        for offset, raw in enumerate(INSTALLED_BY_DEFAULT):
            name = parse_name(raw)
            assert name is not None
            entry = entry_for_registry_pull(name, now - 3600 * (offset + 1))
            assert entry is not None
            self.add(entry)

    def get(self, name: ModelName) -> ModelEntry | None:
        return self._models.get(name.key)

    def add(self, entry: ModelEntry) -> None:
        self._models[entry.key] = entry

    def remove(self, name: ModelName) -> bool:
        return self._models.pop(name.key, None) is not None

    def newest_first(self) -> list[ModelEntry]:
        return sorted(self._models.values(), key=lambda entry: entry.modified_at, reverse=True)


# --- rendering -------------------------------------------------------------------------------


def details(entry: ModelEntry) -> dict[str, Any]:
    return {
        "parent_model": entry.parent,
        "format": "gguf",
        "family": entry.spec.family,
        "families": [entry.spec.family],
        "parameter_size": entry.spec.parameter_size,
        "quantization_level": entry.quantization or entry.spec.quantization,
    }


def tag_item(entry: ModelEntry) -> dict[str, Any]:
    display = entry.name.display
    return {
        "name": display,
        "model": display,
        "modified_at": rfc3339(entry.modified_at),
        "size": entry.spec.size,
        "digest": entry.digest,
        "details": details(entry),
    }


def model_info(entry: ModelEntry) -> dict[str, Any]:
    arch = entry.spec.family.replace("-", "_")
    return {
        "general.architecture": arch,
        "general.basename": entry.name.model,
        "general.file_type": 2,
        "general.parameter_count": entry.spec.size * 2,
        "general.quantization_version": 2,
        f"{arch}.context_length": entry.spec.context_length,
        f"{arch}.embedding_length": entry.spec.embedding_length,
    }


def _format_parameters(parameters: dict[str, Any]) -> str:
    lines = []
    for key, value in parameters.items():
        for item in value if isinstance(value, list) else [value]:
            text = json.dumps(item) if isinstance(item, str) else str(item)
            lines.append(f"{key:<30} {text}")
    return "\n".join(lines)


def _modelfile(entry: ModelEntry) -> str:
    display = entry.name.display
    lines = [
        '# Modelfile generated by "ollama show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {display}",
        "",
        f"FROM {BLOB_DIR}/sha256-{entry.layers()[0][0]}",
    ]
    lines += [f"ADAPTER {BLOB_DIR}/{digest.replace(':', '-')}" for digest in entry.adapters.values()]
    lines.append(f'TEMPLATE """{entry.effective_template}"""')
    if entry.system:
        lines.append(f'SYSTEM """{entry.system}"""')
    for key, value in entry.effective_parameters.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {key} {json.dumps(item) if isinstance(item, str) else item}")
    if entry.license:
        lines.append(f'LICENSE """{entry.license}"""')
    return "\n".join(lines) + "\n"


def show_body(entry: ModelEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "license": entry.license,
        "modelfile": _modelfile(entry),
        "parameters": _format_parameters(entry.effective_parameters),
        "template": entry.effective_template,
        "details": details(entry),
        "model_info": model_info(entry),
        "capabilities": list(entry.spec.capabilities),
        "modified_at": rfc3339(entry.modified_at),
    }
    if entry.system:
        body["system"] = entry.system
    # Not in Ollama's reply: what /api/create was given, so a test can check an adapter deployment.
    if entry.adapters:
        body["adapters"] = dict(entry.adapters)
    if entry.files:
        body["files"] = dict(entry.files)
    return body

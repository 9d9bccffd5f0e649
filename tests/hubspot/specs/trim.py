"""Re-cut the trimmed OpenAPI specs from HubSpot's public spec collection (run by hand, offline CI
uses the committed copies): python tests/hubspot/specs/trim.py PATH_TO_CLONE_OR_GIT_DIR

Keeps only the operations the test server serves, and the components they reach.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = "HubSpot/HubSpot-public-api-spec-collection"
SPECS = {
    "contacts.json": ("PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json", "/crm/v3/objects/contacts"),
    "companies.json": ("PublicApiSpecs/CRM/Companies/Rollouts/424/v3/companies.json", "/crm/v3/objects/companies"),
    "deals.json": ("PublicApiSpecs/CRM/Deals/Rollouts/424/v3/deals.json", "/crm/v3/objects/0-3"),
    "notes.json": ("PublicApiSpecs/CRM/Notes/Rollouts/424/v3/notes.json", "/crm/v3/objects/notes"),
    "associations_v4.json": ("PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json", None),
    "pipelines.json": ("PublicApiSpecs/CRM/Pipelines/Rollouts/145896/v3/pipelines.json", None),
    "properties.json": ("PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json", None),
}
KEEP = {
    # object specs: suffix after the object's base path
    "objects": {"": {"get", "post"}, "/search": {"post"}, "/batch/read": {"post"},
                "/batch/update": {"post"}, "/batch/create": {"post"}, "/batch/archive": {"post"},
                "/{id}": {"get", "patch", "delete"}},
    "associations_v4.json": {
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}": {"put"},
        "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}": {"get"},
        "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}": {"put", "delete"},
        "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read": {"post"},
        "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create": {"post"},
        "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default": {"post"},
    },
    "pipelines.json": {"/crm/v3/pipelines/{objectType}": {"get"},
                       "/crm/v3/pipelines/{objectType}/{pipelineId}": {"get"}},
    "properties.json": {"/crm/v3/properties/{objectType}": {"get"},
                        "/crm/v3/properties/{objectType}/{propertyName}": {"get"}},
}


def _refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            found.add(ref)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def trim(spec: dict, keep: dict[str, set[str]]) -> dict:
    paths = {}
    for path, ops in spec["paths"].items():
        if path in keep:
            paths[path] = {m: op for m, op in ops.items() if m in keep[path] or m == "parameters"}
    out = {"openapi": spec["openapi"], "info": spec["info"], "paths": paths, "components": {}}
    todo: set[str] = set()
    _refs(paths, todo)
    done: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in done:
            continue
        done.add(ref)
        _, _, section, name = ref.split("/", 3)
        value = spec["components"][section][name]
        out["components"].setdefault(section, {})[name] = value
        _refs(value, todo)
    return out


def main(repo: str) -> None:
    git = ["git", "--git-dir", repo] if not (Path(repo) / ".git").exists() else ["git", "-C", repo]
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    for name, (path, base) in SPECS.items():
        spec = json.loads(subprocess.run(git + ["show", f"HEAD:{path}"], capture_output=True, check=True).stdout)
        if base:
            id_paths = [p for p in spec["paths"] if p.startswith(base + "/{") and p.count("/") == base.count("/") + 1]
            keep = {base + suffix.replace("/{id}", id_paths[0][len(base):]): ops for suffix, ops in KEEP["objects"].items()}
        else:
            keep = KEEP[name]
        trimmed = trim(spec, keep)
        trimmed["x-scribe-source"] = {"repository": SOURCE, "commit": commit, "path": path}
        (HERE / name).write_text(json.dumps(trimmed, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(name, len(trimmed["paths"]), "paths", len(json.dumps(trimmed)) // 1024, "KiB")


if __name__ == "__main__":
    main(sys.argv[1])

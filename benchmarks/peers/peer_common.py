"""Shared by the peer scripts (each runs in its own virtual environment, so nothing of softrl_jax)."""

import json
import os


def write_result(result: dict, json_path: str) -> dict:
    """Print the result as JSON and write it to `json_path` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if json_path:
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w") as f:
            f.write(text + "\n")
    return result

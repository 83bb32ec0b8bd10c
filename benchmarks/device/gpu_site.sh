#!/usr/bin/env bash
# Build, on this CPU machine, the package folder the GPU machine lacks (its Python 3.12; see
# ../shared/gpu/wheels.sh for the simulation stack in .whl) plus W&B, rliable and their needs, installed
# into one folder and packed as .whl-site/gpusite.tar.xz (about 44 MB, against 218 MB installed and
# 75 MB as wheels). Run from the project root after `bash ../shared/gpu/wheels.sh`.
set -euo pipefail
PY=${PY:-.venv/bin/python}
EXTRA="arch==7.2.0 cwevals==0.0.1b1 googleapis-common-protos==1.76.0 opentelemetry-api==1.45.2
opentelemetry-exporter-http-transport==0.66b2 opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2
opentelemetry-proto==1.45.2 opentelemetry-sdk==1.45.2 opentelemetry-semantic-conventions==0.66b2 distro sniffio
lazy-importer wandb==0.31.0 pydantic==2.14.4 pydantic-core annotated-types typing-inspection platformdirs"
PLAT="--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
--platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
--platform manylinux1_x86_64 --only-binary=:all:"
work=$(mktemp -d)
for p in $EXTRA; do $PY -m pip download -q --no-deps $PLAT -d "$work/whl" "$p" 2>&1 | grep -v -i warning || true; done
$PY -m pip wheel -q --no-deps rliable==1.2.0 -w "$work/whl"  # an sdist: its wheel is pure Python
$PY -m pip install -q --no-deps --no-compile --target "$work/gpusite" $PLAT .whl/*.whl "$work/whl"/*.whl
mkdir -p .whl-site
tar -cJf .whl-site/gpusite.tar.xz -C "$work" gpusite
rm -rf "$work"
du -sh .whl-site/gpusite.tar.xz

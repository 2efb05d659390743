#!/usr/bin/env bash
# The one test command (README and .ci/run): install exactly what package-lock.json says, build, run every spec.
set -euo pipefail
cd "$(dirname "$0")/.."
# test/deploy renders k8s/ offline with `kubectl kustomize`; Debian ships kubectl in the kubernetes-client package.
command -v kubectl >/dev/null || { apt-get update && apt-get install -y --no-install-recommends kubernetes-client; }
# test/pacs*.e2e-spec.ts start a real Orthanc with its DICOMweb plugin, send DICOMs with dcmtk's storescu, check SEGs and SRs with dciodvfy.
{ command -v Orthanc || test -x /usr/sbin/Orthanc; } >/dev/null && test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so && command -v storescu >/dev/null && command -v dciodvfy >/dev/null || { apt-get update && apt-get install -y --no-install-recommends orthanc orthanc-dicomweb dcmtk dicom3tools; }
# test/pacs-queue.e2e-spec.ts and the pacs/queue specs start a real redis-server (BullMQ's job queue).
command -v redis-server >/dev/null || { apt-get update && apt-get install -y --no-install-recommends redis-server; }
# test/dataset-import*.e2e-spec.ts make RT Structure Sets from expert masks with Debian's plastimatch (a third-party RTSTRUCT writer).
command -v plastimatch >/dev/null || { apt-get update && apt-get install -y --no-install-recommends plastimatch; }
# libs/imaging's codec spec and test/inference-compressed.e2e-spec.ts compress real DICOMs with GDCM's gdcmconv (and DCMTK, above).
command -v gdcmconv >/dev/null || { apt-get update && apt-get install -y --no-install-recommends libgdcm-tools; }
# test/*.browser-spec.ts drive Debian's chromium headless through playwright-core (the viewer, the training monitor, the report).
test -x /usr/bin/chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; }
# onnxruntime-node ships its CPU build; its install script would otherwise download CUDA binaries (no internet here).
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
# A run that cannot finish (a test leaving a server or browser open) fails here, well inside CI's 90 minutes,
# instead of hanging until CI kills it; the whole suite takes ~10 minutes on this 2-core machine.
timeout --kill-after=30s 60m npx jest --ci

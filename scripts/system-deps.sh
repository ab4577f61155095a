#!/usr/bin/env bash
# Installs the OS packages clipper needs when they are missing: ffmpeg/ffprobe, the
# DejaVu fonts for burned-in subtitles, and PostgreSQL for the embedded database.
# Idempotent: with everything present it only checks, in milliseconds.
set -euo pipefail

missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ -z "${DATABASE_URL:-}" ]; then
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
fi
for extra in "$@"; do
  dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra")
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing OS packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  apt=(sudo apt-get)
else
  echo "error: clipper needs these OS packages: ${missing[*]}" >&2
  echo "install them (for example: sudo apt-get install -y ${missing[*]}) and run make again" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "error: no apt-get here; install ${missing[*]} with your package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs what pprl needs to build and test, and nothing that is already there.
# Debian packages through apt-get (needs root, or sudo); Python tooling through pip.
# Idempotent: a second run installs nothing and says so.
set -euo pipefail

debian_packages=(
  g++ make cmake pkg-config           # toolchain
  clang libclang-rt-14-dev            # libFuzzer for the fuzz targets (make test runs them briefly)
  libssl-dev                          # OpenSSL 3: HMAC, HKDF, SHA-256, RAND
  libboost-dev                        # Boost.Multiprecision (clkhash digest arithmetic)
  libxxhash-dev                       # XXH3 checksums and blocking keys
  nlohmann-json3-dev                  # schemas and JSON formats
  libcli11-dev                        # the command-line parser
  libutf8proc-dev                     # Unicode normalisation
  libsqlite3-dev                      # SQLite: the hub registry
  libre2-dev                          # linear-time regular expressions (clkhash patterns and dates)
  libgtest-dev                        # tests
  libbenchmark-dev                    # benchmarks
)

missing=()
for package in "${debian_packages[@]}"; do
  [[ "$package" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "bootstrap: Debian packages already installed"
fi

if [[ "${PPRL_BOOTSTRAP_PYTHON:-0}" == "1" ]]; then
  python=${PYTHON:-python3}
  # package, or package=module where the module imported differs from the name pip installs
  python_packages=(pybind11 scikit-build-core numpy pandas pytest nbclient nbformat ipykernel matplotlib pyarrow polars
                   "dask[distributed]=distributed" tqdm)
  missing_py=()
  for entry in "${python_packages[@]}"; do
    package=${entry%%=*}
    module=${entry#*=}
    module=${module//-/_}
    if ! "$python" -c "import ${module}" 2>/dev/null; then missing_py+=("$package"); fi
  done
  if ((${#missing_py[@]})); then
    echo "bootstrap: installing Python packages: ${missing_py[*]}"
    "$python" -m pip install --quiet --disable-pip-version-check "${missing_py[@]}"
  else
    echo "bootstrap: Python packages already installed"
  fi
fi

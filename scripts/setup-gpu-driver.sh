#!/usr/bin/env bash
# Makes a WebGPU adapter available on a machine with no GPU: Mesa's lavapipe (a Vulkan driver on the
# CPU) from Debian's bookworm-backports suite, unpacked under the project so nothing system-wide changes
# except the Vulkan loader. Idempotent: a second run finds the cached driver and does nothing.
# Why backports: Dawn rejects Debian 12's own Mesa 22.3 lavapipe (it lacks
# shaderUniform*ArrayDynamicIndexing); Mesa 25 has it.
set -euo pipefail

MESA_VERSION="25.0.7-2~bpo12+1"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
driver_root="$repo_root/.graft/driver"
driver_dir="$driver_root/mesa-${MESA_VERSION//[~+]/_}"
lvp_lib="$driver_dir/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"

say() { printf 'graft setup: %s\n' "$*" >&2; }
fail() { printf 'graft setup: %s\n' "$*" >&2; exit 1; }

vulkan_loader_present() {
  ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || [ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ]
}

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  say "not Linux x86_64: no software driver is set up. WebGPU will use this machine's own GPU"
  say "(macOS: Metal; Windows: D3D12). If none is found, graft says so when it starts."
  exit 0
fi

# A machine with a GPU uses its own drivers (the device layer tries them first when it sees one).
if [ -e /dev/nvidia0 ] || ls /dev/dri/renderD* >/dev/null 2>&1; then
  if [ "${GRAFT_ADAPTER:-auto}" != software ]; then
    say "a GPU device node is present: using the system's Vulkan drivers, no software driver set up"
    say "(set GRAFT_ADAPTER=software to set up and use lavapipe anyway)"
    exit 0
  fi
fi

# 1. The Vulkan loader: the one runtime library a fresh Debian machine of this kind lacks.
if ! vulkan_loader_present; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing the Vulkan loader (libvulkan1)"
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1 >/dev/null
  else
    fail "the Vulkan loader libvulkan.so.1 is missing. Install it, then run this again:
    sudo apt-get install libvulkan1        (Debian/Ubuntu)
    sudo dnf install vulkan-loader         (Fedora)"
  fi
fi

if [ -e "$lvp_lib" ]; then
  say "software Vulkan driver ready: $lvp_lib"
  exit 0
fi

if ! command -v apt-get >/dev/null || ! grep -qs 'bookworm' /etc/os-release; then
  # Not fatal: the system may have a working Vulkan driver; graft explains at start-up if it finds none.
  say "this is not Debian 12 (bookworm), so Mesa $MESA_VERSION cannot be fetched here. If this machine has"
  say "no GPU, install Mesa >= 24 with lavapipe from your distribution (Debian/Ubuntu: mesa-vulkan-drivers,"
  say "Fedora: mesa-vulkan-drivers); graft uses the system's Vulkan drivers when no project-local one exists."
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  # apt-get download and dpkg -x need no root, but a fresh machine may lack the lists; try anyway.
  say "not root: fetching the driver without changing the system (the Vulkan loader must already be installed)"
fi

# 2. A private apt configuration for bookworm-backports, so the system's sources stay untouched.
# The mirror is the machine's own: the first Debian URI in its sources.
mirror="$(grep -hs -E '^\s*URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | grep -m1 'debian' || true)"
if [ -z "$mirror" ]; then
  mirror="$(grep -hs -E '^\s*deb\s' /etc/apt/sources.list | awk '{print $2}' | grep -v -- '-security' | grep -m1 'debian' || true)"
fi
[ -n "$mirror" ] || fail "could not find a Debian mirror in /etc/apt/sources.list{,.d}. Add one, or install Mesa >= 24 lavapipe by hand."
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

apt_dir="$driver_root/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$driver_root/download"
cat > "$apt_dir/backports.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: $keyring
SRC
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/backports.sources" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives"
          -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
say "fetching Mesa $MESA_VERSION (lavapipe) from $mirror bookworm-backports"
apt-get "${apt_opts[@]}" update -qq >/dev/null
( cd "$driver_root/download" && apt-get "${apt_opts[@]}" download -qq "mesa-vulkan-drivers=$MESA_VERSION" >/dev/null )
deb="$(ls "$driver_root"/download/mesa-vulkan-drivers_*.deb | head -1)"

# 3. Unpack into a temp dir first and move it into place, so an interrupted run never leaves half a driver.
tmp="$(mktemp -d "$driver_root/unpack.XXXXXX")"
dpkg -x "$deb" "$tmp"
[ -e "$tmp/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" ] || fail "$deb holds no libvulkan_lvp.so"
rm -rf "$driver_dir"; mv "$tmp" "$driver_dir"
rm -rf "$driver_root/download"

missing="$(ldd "$lvp_lib" | grep 'not found' || true)"
if [ -n "$missing" ]; then
  say "lavapipe links libraries this machine lacks:"; printf '%s\n' "$missing" >&2
  fail "install them (apt-get install <package providing each>) and run this again."
fi
say "software Vulkan driver ready: $lvp_lib"

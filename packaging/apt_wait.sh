# apt_get ARGS...: apt-get ARGS, waiting with a message while another apt or dpkg (an update
# manager, unattended-upgrades) holds the lock, instead of failing at once with apt's raw
# "Could not get lock". Sourced by install.sh. APT_WAIT_MAX_S (default 900) bounds the wait.
apt_get() {
  local waited=0 step=5 max=${APT_WAIT_MAX_S:-900} out
  while true; do
    if out=$(apt-get "$@" 2>&1); then
      return 0
    fi
    if ! grep -qiE "could not get lock|unable to acquire the dpkg frontend lock|unable to lock" <<<"$out"; then
      echo "$out" >&2
      return 1
    fi
    if [ "$waited" -ge "$max" ]; then
      echo "install.sh: apt is still locked by another program after ${waited} s; run this again once it is done" >&2
      return 1
    fi
    [ "$waited" -eq 0 ] && echo "install.sh: another apt or dpkg is running (it holds apt's lock); waiting for it to finish..."
    sleep "$step"
    waited=$((waited + step))
  done
}

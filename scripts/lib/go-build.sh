# Shared by the scripts that build Go tools from the Go module proxy (tests/controlplane/build.sh,
# tests/controlplane/build-kwok.sh, scripts/go-install.sh). Sourced, not run. The caller defines
# `say` (its progress prefix) and includes this file in its inputs hash.

# Whether OUT is built from the inputs that hash to HASH (OUT.inputs holds the hash it was built
# from), and, when a third argument is given, that this directory exists too.
go_build_current() {
  local out=$1 hash=$2 dir=${3:-}
  [[ -x $out && -f $out.inputs && $(cat "$out.inputs") == "$hash" ]] && [[ -z $dir || -d $dir ]]
}

# Exits 0 when OUT is current; otherwise takes OUT.lock (waiting for a concurrent build, which may
# make OUT current meanwhile) and returns, holding the lock on fd 9 until the caller exits.
go_build_lock() {
  local out=$1 hash=$2 dir=${3:-}
  if go_build_current "$out" "$hash" "$dir"; then exit 0; fi
  exec 9>"$out.lock"
  if ! flock -n 9; then
    say "another build is running, waiting for it"
    flock 9
    if go_build_current "$out" "$hash" "$dir"; then exit 0; fi
  fi
  go_build_started=$(date +%s)
}

# Minutes and seconds since go_build_lock.
go_build_elapsed() {
  local s=$(($(date +%s) - go_build_started))
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# Runs a `go build -v`/`go install -v` command line and turns the package names it prints into a
# coarse progress report every 20 s ("compiled N/TOTAL packages"; TOTAL may be empty). Compiler,
# linker and download messages (lines with a space or a colon) go to stderr as they are. Returns
# the command's exit status.
go_build_progress() {
  local total=$1
  shift
  local count=0 status=1 last now line
  last=$(date +%s)
  while IFS= read -r line; do
    if [[ $line == "__exit "* ]]; then
      status=${line#__exit } # the command's own exit status, appended below
      continue
    fi
    if [[ $line == *" "* || $line == *:* ]]; then
      printf '%s\n' "$line" >&2
      continue
    fi
    count=$((count + 1))
    now=$(date +%s)
    if ((now - last >= 20)); then
      say "compiled $count${total:+/$total} packages ($(go_build_elapsed))…"
      last=$now
    fi
  done < <("$@" 2>&1; echo "__exit $?")
  return "$status"
}

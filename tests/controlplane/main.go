// Command controlplane runs an embedded etcd and a real kube-apiserver in one process, so the
// end-to-end tests and `npm run dev` get a genuine API server (RBAC, admission webhooks, CRDs)
// without Docker, kubelets or downloaded release binaries.
//
//	controlplane [--parent-pid N] [--etcd-dir D] [--etcd-port P] [--etcd-peer-port P] -- <kube-apiserver flags>
//
// Everything after `--` goes to kube-apiserver unchanged; `--etcd-servers` is added to point at the
// embedded etcd. With --parent-pid the process shuts itself down when that process disappears, so a
// crashed test runner leaves no orphaned API server behind.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(run())
}

func run() int {
	own := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	parentPID := own.Int("parent-pid", 0, "exit when this process is gone (0: no watchdog)")
	etcdDir := own.String("etcd-dir", "", "etcd data directory (default: a fresh temporary directory, removed on exit)")
	etcdPort := own.Int("etcd-port", 2379, "etcd client port on 127.0.0.1")
	etcdPeerPort := own.Int("etcd-peer-port", 2380, "etcd peer port on 127.0.0.1")
	if err := own.Parse(os.Args[1:]); err != nil {
		return 2
	}
	apiserverArgs := own.Args()
	for _, arg := range apiserverArgs {
		if arg == "--version" || arg == "--help" || arg == "-h" || strings.HasPrefix(arg, "--version=") {
			// Informational: kube-apiserver answers and exits, no etcd needed.
			cmd := app.NewAPIServerCommand()
			cmd.SetArgs(apiserverArgs)
			return cli.Run(cmd)
		}
	}

	dir := *etcdDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "controlplane-etcd-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "controlplane:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	etcd, err := startEtcd(dir, *etcdPort, *etcdPeerPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane: etcd:", err)
		return 1
	}
	defer etcd.Close()
	fmt.Fprintf(os.Stderr, "controlplane: etcd ready on 127.0.0.1:%d\n", *etcdPort)

	if *parentPID > 0 {
		// kube-apiserver exits hard on a second signal; remember the first so the watchdog adds none.
		signalled := make(chan os.Signal, 1)
		signal.Notify(signalled, syscall.SIGINT, syscall.SIGTERM)
		go watchParent(*parentPID, signalled)
	}
	go func() {
		// etcd failing underneath the API server leaves nothing worth keeping alive.
		if err, ok := <-etcd.Err(); ok && err != nil {
			fmt.Fprintln(os.Stderr, "controlplane: etcd failed:", err)
			os.Exit(1)
		}
	}()

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(append([]string{fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", *etcdPort)}, apiserverArgs...))
	code := cli.Run(cmd)
	fmt.Fprintf(os.Stderr, "controlplane: kube-apiserver exited (%d), stopping etcd (its \"server closed\" errors below are expected)\n", code)
	return code
}

func startEtcd(dir string, clientPort, peerPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "controlplane"
	cfg.Dir = filepath.Join(dir, "etcd")
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	// Throwaway test data: durability buys nothing and fsync dominates start-up on slow disks.
	cfg.UnsafeNoFsync = true

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("not ready after 60s")
	}
}

// watchParent turns the parent's death into SIGTERM for ourselves (the API server then shuts down
// gracefully and etcd closes after it), unless a signal already started that; a grace period later
// it exits hard.
func watchParent(pid int, signalled <-chan os.Signal) {
	// A direct child sees its parent's death as a changed parent pid (re-parented to init or a
	// subreaper), which is immune to pid reuse; otherwise probe the pid.
	direct := os.Getppid() == pid
	stopping := false
	for {
		select {
		case <-signalled:
			stopping = true
		case <-time.After(500 * time.Millisecond):
		}
		if direct && os.Getppid() != pid || !direct && syscall.Kill(pid, 0) != nil {
			break
		}
	}
	fmt.Fprintf(os.Stderr, "controlplane: parent %d is gone, shutting down\n", pid)
	select {
	case <-signalled:
		stopping = true
	default:
	}
	if !stopping {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
	time.Sleep(20 * time.Second)
	fmt.Fprintln(os.Stderr, "controlplane: still running 20s after the parent died, exiting")
	os.Exit(1)
}

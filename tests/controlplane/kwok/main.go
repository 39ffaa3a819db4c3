// KWOK (sigs.k8s.io/kwok) for the local control plane: fake nodes whose pods answer the kubelet
// API (exec, attach, port-forward, logs), with commands run locally in a per-pod sandbox directory
// (see ../cluster.ts). Built by ../build-kwok.sh into .dev/bin/kwok, as its own binary: KWOK needs
// k8s.io modules v0.36.x, the kube-apiserver in ../main.go is built from v0.34.x.
//
// This is cmd/kwok/main.go of sigs.k8s.io/kwok v0.8.0 plus --parent-pid: when that process is gone
// (even through kill -9), kwok stops itself, so a crashed test never leaves it behind.
package main

import (
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"sigs.k8s.io/kwok/pkg/config"
	"sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

// watchParent takes --parent-pid N (or --parent-pid=N) out of the arguments and, when given,
// polls that process: once it is gone, SIGTERM to ourselves, and a hard exit 10 s later.
func watchParent() {
	args := []string{os.Args[0]}
	parent := 0
	for i := 1; i < len(os.Args); i++ {
		a := os.Args[i]
		switch {
		case a == "--parent-pid" && i+1 < len(os.Args):
			parent, _ = strconv.Atoi(os.Args[i+1])
			i++
		case len(a) > len("--parent-pid=") && a[:len("--parent-pid=")] == "--parent-pid=":
			parent, _ = strconv.Atoi(a[len("--parent-pid="):])
		default:
			args = append(args, a)
		}
	}
	os.Args = args
	if parent <= 0 {
		return
	}
	go func() {
		for {
			time.Sleep(time.Second)
			if syscall.Kill(parent, 0) == syscall.ESRCH || os.Getppid() != parent {
				_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
				time.Sleep(10 * time.Second)
				os.Exit(1)
			}
		}
	}()
}

func main() {
	watchParent()

	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsAllowlist.UnknownFlags = true
	flagset.Usage = func() {}

	ctx := signals.SetupSignalContext()
	ctx, logger := log.InitFlags(ctx, flagset)

	ctx, err := config.InitFlags(ctx, flagset)
	if err != nil {
		_, _ = os.Stderr.Write([]byte(flagset.FlagUsages()))
		logger.Error("Init config flags",
			"err", err,
		)
		os.Exit(1)
	}

	command := cmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	err = command.ExecuteContext(ctx)
	if err != nil {
		logger.Error("Execute exit",
			"err", err,
		)
		os.Exit(1)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// engineLog sends diagnostics for one resource to the engine, as pulumi-go-provider's logger does for upstream:
// warnings and errors land in the CLI's diagnostics; status lines (command output, dial retries) are ephemeral
// info messages shown next to the resource while it runs (and printed by the non-interactive display).
type engineLog struct {
	send func(severity pulumirpc.LogSeverity, msg string, ephemeral bool)
}

func (l engineLog) warn(msg string)   { l.send(pulumirpc.LogSeverity_WARNING, msg, false) }
func (l engineLog) error(msg string)  { l.send(pulumirpc.LogSeverity_ERROR, msg, false) }
func (l engineLog) status(msg string) { l.send(pulumirpc.LogSeverity_INFO, msg, true) }

func (p *provider) logFor(ctx context.Context, urn resource.URN) engineLog {
	return engineLog{send: func(sev pulumirpc.LogSeverity, msg string, ephemeral bool) {
		if p.engine == nil {
			fmt.Fprintf(os.Stderr, "%s: %s\n", sev, msg)
			return
		}
		_, _ = p.engine.Log(ctx, &pulumirpc.LogRequest{Severity: sev, Message: msg, Urn: string(urn), Ephemeral: ephemeral})
	}}
}

// lockedWriter serialises writes from the stdout and stderr copiers into shared buffers.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

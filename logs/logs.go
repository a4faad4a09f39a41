// Package logs owns minirunc's diagnostics: the --log file in text or JSON
// (the format containerd-shim and conmon parse) and the one-line errors on
// stderr that every failing command prints.
package logs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

var (
	logger  = slog.New(slog.NewTextHandler(io.Discard, nil))
	logFile *os.File
	debug   bool
)

// Setup opens path (created if missing, appended to) and routes log records
// there in format "text" or "json". An empty path logs nowhere but stderr.
func Setup(path, format string, dbg bool) error {
	debug = dbg
	if format != "" && format != "text" && format != "json" {
		return fmt.Errorf("invalid log-format %q: must be text or json", format)
	}
	if path == "" {
		return nil
	}
	if logFile != nil {
		logFile.Close()
		logFile = nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	logFile = f
	level := slog.LevelInfo
	if dbg {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr}
	if format == "json" {
		logger = slog.New(slog.NewJSONHandler(f, opts))
	} else {
		logger = slog.New(slog.NewTextHandler(f, opts))
	}
	return nil
}

// replaceAttr lower-cases the level (containerd matches "level":"error")
// and writes the time as RFC 3339, which the shim parses.
func replaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Key {
	case slog.LevelKey:
		if lv, ok := a.Value.Any().(slog.Level); ok {
			s := strings.ToLower(lv.String())
			if s == "warn" {
				s = "warning"
			}
			return slog.String(slog.LevelKey, s)
		}
	case slog.TimeKey:
		if t, ok := a.Value.Any().(time.Time); ok {
			return slog.String(slog.TimeKey, t.Format(time.RFC3339Nano))
		}
	}
	return a
}

// Error records msg at error level and prints it on stderr.
func Error(msg string) {
	logger.Log(context.Background(), slog.LevelError, msg)
	fmt.Fprintln(os.Stderr, "minirunc: "+msg)
}

// Warn records a warning in the log and on stderr.
func Warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logger.Log(context.Background(), slog.LevelWarn, msg)
	fmt.Fprintln(os.Stderr, "minirunc: warning: "+msg)
}

// Debug records a debug message when --debug is set.
func Debug(format string, args ...any) {
	if !debug {
		return
	}
	logger.Log(context.Background(), slog.LevelDebug, fmt.Sprintf(format, args...))
}

// Close flushes and closes the log file.
func Close() {
	if logFile != nil {
		logFile.Close()
	}
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
)

// checkCompose loads a compose file as `docker compose config` does, with no environment of ours
// leaking into it (the file must not depend on the caller's variables).
func checkCompose(file string) []string {
	abs, err := filepath.Abs(file)
	if err != nil {
		return []string{err.Error()}
	}
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)), cli.WithName("wavecom"))
	if err != nil {
		return []string{err.Error()}
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return []string{err.Error()}
	}
	names := project.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("ok service %s\n", name)
	}
	return nil
}

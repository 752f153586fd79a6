// The step-ca command for mod_acme's integration tests: Debian ships smallstep's
// CA as Go source (golang-github-smallstep-certificates-dev) without its
// cmd/step-ca, so this is that command, reduced to what upstream's main does to
// run the server: the CLI app whose only action is commands.AppCommand
// (step-ca CONFIG [--password-file FILE] ...). Built by build/stepca.sh.
package main

import (
	"fmt"
	"os"

	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"

	// the certificate authority services a ca.json may name; softcas (the
	// CA's own key and certificate) is the default one
	_ "github.com/smallstep/certificates/cas/softcas"
)

const version = "0.19.0-debian"

func main() {
	authority.GlobalVersion.Version = version
	app := cli.NewApp()
	app.Name = "step-ca"
	app.HelpName = "step-ca"
	app.Version = version
	app.Usage = "an online certificate authority for secure automated certificate management"
	app.UsageText = commands.AppCommand.UsageText
	app.Flags = append(app.Flags, commands.AppCommand.Flags...)
	app.Flags = append(app.Flags, cli.HelpFlag)
	app.Action = commands.AppCommand.Action
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

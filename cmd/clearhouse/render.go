package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clearhouse-dev/clearhouse/internal/render"
)

func newRenderCommand() *cobra.Command {
	in := render.Input{}
	cmd := &cobra.Command{
		Use:   "render -f FILE|DIR|- [-f ...]",
		Short: "Print the manifests the operator would create for Clearhouse resources",
		Long: `render reads Clearhouse resources (YAML or JSON, several documents per file, from
files, directories or stdin) and prints, as one YAML stream, every manifest the operator
would create for them, so that a GitOps repository can commit them rendered.

Rendered today: the change-data-capture pipeline of each DataSource with spec.capture
(a Strimzi KafkaConnector running Debezium, and the KafkaTopics it writes when the
DataSource's spec.module names a BusinessModule among the inputs with a kafkaCluster;
otherwise Kafka Connect creates the topics). Objects carry no owner references: the
operator adds them to the objects it applies.

Output is ordered by namespace, kind and name: the same inputs give the same bytes.
Documents of other kinds (Secrets, ...) are skipped with a note on stderr; a document
that is not valid YAML, or a Clearhouse resource with unknown fields, is an error naming
the file and the document.`,
		Example: `  clearhouse render -f config/samples > rendered/pipelines.yaml
  kustomize build overlays/prod | clearhouse render -f - -n payments`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(in.Paths) == 0 {
				return errors.New("render: give at least one -f FILE, DIR or - (stdin)")
			}
			in.Stdin, in.Notes = cmd.InOrStdin(), cmd.ErrOrStderr()
			if err := render.Run(in, cmd.OutOrStdout()); err != nil {
				return fmt.Errorf("render: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&in.Paths, "filename", "f", nil, "file, directory (its .yaml, .yml and .json files) or - for stdin; repeatable")
	cmd.Flags().StringVarP(&in.Namespace, "namespace", "n", "default", "namespace of resources that do not name one")
	cmd.Flags().BoolVarP(&in.Recursive, "recursive", "R", false, "descend into subdirectories of directories")
	return cmd
}

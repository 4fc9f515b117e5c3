package ai.djl.xlstm.examples;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ScopeType;

/**
 * The {@code xlstm} command line ({@code java -jar xlstm-examples/target/xlstm.jar}). Errors in
 * the user's input end the program with a one-line message and exit code 2, never a stack trace
 * (unless {@code --verbose}).
 */
@Command(
        name = "xlstm",
        mixinStandardHelpOptions = true,
        version = XLstmCli.VERSION,
        scope = ScopeType.INHERIT, // every subcommand has --help and --version
        description = "xLSTM language models on the Deep Java Library.",
        subcommands = {GenerateCommand.class, ChatCommand.class, EvalCommand.class, InspectCommand.class, ExportCommand.class, BenchCommand.class, TrainCommand.class, FinetuneCommand.class, ai.djl.xlstm.examples.baseline.LstmBaselineCommand.class, FormalLanguageCommand.class, FormalTableCommand.class, DemoCommand.class})
public final class XLstmCli {

    /** The version every command's {@code --version} prints. */
    public static final String VERSION = "xlstm 0.1.0 (DJL 0.36.0, PyTorch engine)";

    private XLstmCli() {}

    /** Runs the command line and exits with its status. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status (0 success, 1 failure, 2 bad input). */
    public static int run(String... args) {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        System.setProperty("java.awt.headless", "true");
        return commandLine().execute(args);
    }

    /**
     * The command line with its subcommands and error handling: an exception is one line {@code
     * error: MESSAGE} on stderr (with the stack trace after it under {@code --verbose}), exit code 2
     * for bad input ({@link IllegalArgumentException}, a missing file) and 1 otherwise.
     */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new XLstmCli());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            Throwable cause = e;
            while (cause.getCause() != null && cause.getMessage() == null) {
                cause = cause.getCause();
            }
            boolean userError = cause instanceof IllegalArgumentException
                    || cause instanceof java.nio.file.NoSuchFileException;
            cmd.getErr().println("error: " + (cause.getMessage() != null ? cause.getMessage() : cause.toString()));
            if (cmd.getParseResult() != null && cmd.getParseResult().hasMatchedOption("--verbose")) {
                e.printStackTrace(cmd.getErr());
            }
            cmd.getErr().flush();
            return userError ? 2 : 1;
        });
        return cli;
    }
}

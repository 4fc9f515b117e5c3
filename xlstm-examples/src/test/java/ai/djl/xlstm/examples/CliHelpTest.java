package ai.djl.xlstm.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code --help} and {@code -h} on the top-level command and every subcommand (found from the
 * command line's subcommand map, so a new command is covered without editing this test): usage on
 * stdout, nothing on stderr, exit 0; and a command's help names only options that command has.
 */
class CliHelpTest {

    /** The command paths: {@code []} for {@code xlstm} itself, then every (nested) subcommand. */
    private static List<List<String>> commands() {
        List<List<String>> paths = new ArrayList<>();
        collect(XLstmCli.commandLine(), new ArrayList<>(), paths);
        return paths;
    }

    private static void collect(CommandLine cmd, List<String> path, List<List<String>> into) {
        into.add(path);
        cmd.getSubcommands().forEach((name, sub) -> {
            List<String> p = new ArrayList<>(path);
            p.add(name);
            collect(sub, p, into);
        });
    }

    private static String[] args(List<String> path, String flag) {
        List<String> all = new ArrayList<>(path);
        all.add(flag);
        return all.toArray(new String[0]);
    }

    /**
     * {@code xlstm ... --help} in a new JVM, as a user runs it: picocli prints its warnings (e.g.
     * of a bad format string) to the stderr it saw first, which in this JVM is not a test's.
     */
    @Test
    void helpInANewProcessPrintsUsageAndNothingElse() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (List<String> path : commands()) {
            List<String> command = new ArrayList<>(List.of(java, "-Dai.djl.offline=true", "-cp",
                    System.getProperty("java.class.path"), XLstmCli.class.getName()));
            command.addAll(List.of(args(path, "--help")));
            Path err = Files.createTempFile("xlstm-help", ".err");
            try {
                Process p = new ProcessBuilder(command).redirectError(err.toFile()).start();
                p.getOutputStream().close();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not end: " + path);
                String name = String.join(" ", args(path, "--help"));
                assertEquals(0, p.exitValue(), name + ": " + out + Files.readString(err));
                assertTrue(out.startsWith("Usage: "), name + ": " + out);
                assertEquals("", Files.readString(err), name + " wrote to stderr");
            } finally {
                Files.deleteIfExists(err);
            }
        }
    }

    @Test
    void shortHelpFlagPrintsUsageAndNothingElse() {
        for (List<String> path : commands()) {
            String[] r = CliRun.run(List.of(args(path, "-h")));
            String name = String.join(" ", args(path, "-h"));
            assertEquals("0", r[0], name + ": " + r[1] + r[2]);
            assertTrue(r[1].startsWith("Usage: "), name + ": " + r[1]);
            assertEquals("", r[2], name + " wrote to stderr");
        }
    }

    /** Help that names an option the command does not have (e.g. a shared description) misleads. */
    @Test
    void helpNamesOnlyOptionsOfItsCommand() {
        Pattern option = Pattern.compile("(?<![\\w-])--?[a-zA-Z][\\w-]*");
        for (List<String> path : commands()) {
            CommandLine cmd = XLstmCli.commandLine();
            for (String name : path) {
                cmd = cmd.getSubcommands().get(name);
            }
            String help = CliRun.run(List.of(args(path, "--help")))[1];
            Matcher m = option.matcher(help);
            while (m.find()) {
                List<String> flags = m.group().matches("-[a-zA-Z]{2,}") // clustered short options: [-hV]
                        ? m.group().substring(1).chars().mapToObj(c -> "-" + (char) c).toList() : List.of(m.group());
                for (String flag : flags) {
                    assertTrue(cmd.getCommandSpec().findOption(flag) != null, "'" + String.join(" ", path)
                            + " --help' mentions " + flag + ", which it does not have:\n" + help);
                }
            }
        }
    }

    @Test
    void renamedOptionsKeepTheirOldNamesOutOfTheUsageLine() {
        String help = CliRun.run(List.of("generate", "--help"))[1];
        assertTrue(help.contains("-n, --max-new-tokens=N") && help.contains("--num-beams=N"), help);
        String synopsis = help.substring(0, help.indexOf("Generate text from a prompt"));
        assertFalse(synopsis.contains("--max-tokens") || synopsis.contains("--beams="), synopsis);
    }

    /** Help and version come from the root command ({@code scope = INHERIT}), on every subcommand. */
    @Test
    void versionOnEveryCommandPrintsTheVersion() {
        for (List<String> path : commands()) {
            for (String flag : List.of("--version", "-V")) {
                String[] r = CliRun.run(List.of(args(path, flag)));
                String name = String.join(" ", args(path, flag));
                assertEquals("0", r[0], name + ": " + r[1] + r[2]);
                assertEquals(XLstmCli.VERSION, r[1].strip(), name);
                assertEquals("", r[2], name + " wrote to stderr");
            }
        }
    }

    /** One {@code --tokenizer} option where the commands mean the same by it. */
    @Test
    void theModelFolderCommandsShareOneTokenizerOption() {
        for (String command : List.of("generate", "chat", "eval", "finetune")) {
            CommandLine cmd = XLstmCli.commandLine().getSubcommands().get(command);
            assertTrue(cmd.getCommandSpec().mixins().values().stream()
                    .anyMatch(m -> m.userObject() instanceof TokenizerOption), command);
        }
    }
}

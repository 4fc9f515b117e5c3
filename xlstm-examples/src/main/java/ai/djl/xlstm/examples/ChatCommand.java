package ai.djl.xlstm.examples;

import ai.djl.Device;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.GenerationSession;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code xlstm chat}: an interactive loop in which every line continues the same recurrent state.
 * The model's reply is streamed and ends at a blank line (or {@code --stop}), EOS or {@code
 * --max-new-tokens}. With {@code --session FILE} the state is saved after every turn and restored at
 * start, so a conversation resumes after a restart without re-reading its history.
 */
@Command(name = "chat",
        description = "Talk to a model; every turn continues the same recurrent state.")
final class ChatCommand implements Callable<Integer> {

    private static final String HELP = "commands: /reset forgets the conversation, /save writes the session now,"
            + " /quit (or Ctrl-D) ends";

    @Mixin
    private ModelSource source;

    @Mixin
    private TokenizerOption tokenizer;

    @Mixin
    private WeightsOption weights;

    @Option(names = "--session", paramLabel = "FILE", description = "keep the conversation's state in FILE (restored at start, saved every turn)")
    private Path sessionFile;

    @Mixin
    private GenerationOptions options;

    @Mixin
    private DeviceOptions engine;

    @Override
    public Integer call() throws Exception {
        Device device = engine.device();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        if (sessionFile != null) {
            GenerateCommand.requireWritable(sessionFile, "--session");
        }
        try (ModelFolder folder = ModelFolder.open(source, tokenizer.path(), device, weights.type())) {
            GenerationConfig base = options.toConfig(folder.path(), null, null, folder.endOfText(), List.of("\n\n"));
            GenerationSession session = sessionFile != null && Files.exists(sessionFile)
                    ? folder.generator().loadSession(sessionFile) : folder.generator().newSession();
            try {
                out.printf(Locale.ROOT, "xLSTM chat: %s (%s, vocabulary %d). %s%n", source.describe(),
                        folder.model().getConfig().architecture(), folder.model().getConfig().vocabSize(), HELP);
                if (!session.isEmpty()) {
                    out.printf(Locale.ROOT, "resumed %s: %d tokens of conversation%n", sessionFile, session.length());
                }
                int turn = 0;
                while (true) {
                    out.print("you> ");
                    out.flush();
                    String line = in.readLine();
                    if (line == null || line.strip().equals("/quit")) {
                        out.println();
                        break;
                    }
                    if (line.strip().equals("/reset")) {
                        session.reset();
                        if (sessionFile != null) {
                            Files.deleteIfExists(sessionFile);
                        }
                        out.println("(conversation forgotten)");
                        continue;
                    }
                    if (line.strip().equals("/save")) {
                        save(session, out);
                        continue;
                    }
                    if (line.isBlank()) {
                        continue;
                    }
                    GenerationConfig config = base.toBuilder().seed(base.seed() + session.length() + turn++).build();
                    out.print("xlstm> ");
                    GenerationResult r = folder.generator().generate(session, line + "\n", config, t -> {
                        out.print(t.text());
                        out.flush();
                    });
                    out.printf(Locale.ROOT, "%n[%d tokens, %.1f tokens/s, %s]%n", r.tokens().length, r.tokensPerSecond(),
                            r.finishReason().jsonName());
                    if (sessionFile != null) {
                        session.save(sessionFile);
                    }
                }
            } finally {
                session.close();
            }
        }
        return 0;
    }

    private void save(GenerationSession session, PrintStream out) throws IOException {
        if (sessionFile == null) {
            out.println("(no --session FILE given: nothing to save to)");
        } else if (session.isEmpty()) {
            out.println("(nothing to save yet)");
        } else {
            session.save(sessionFile);
            out.println("(saved " + session.length() + " tokens to " + sessionFile + ")");
        }
    }
}

package ai.djl.xlstm.it;

import ai.djl.ndarray.NDManager;
import ai.djl.xlstm.generate.GenerationConfig;
import ai.djl.xlstm.generate.GenerationResult;
import ai.djl.xlstm.generate.GenerationSession;
import ai.djl.xlstm.generate.Generator;
import ai.djl.xlstm.io.UpstreamCheckpoint;
import ai.djl.xlstm.model.XLstmLanguageModel;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * A separate JVM for {@link GenerationReferenceTest}: {@code MODEL_DIR STATE_IN|- STATE_OUT|- N
 * [PROMPT_IDS]} loads the model, restores the session (or starts one with the comma-separated
 * prompt ids), generates N greedy tokens, saves the session, and prints the tokens on one line.
 */
public final class SessionProcess {

    private SessionProcess() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("ai.djl.offline", "true");
        try (NDManager manager = NDManager.newBaseManager()) {
            XLstmLanguageModel model = UpstreamCheckpoint.load(Path.of(args[0]), manager);
            Generator generator = new Generator(model, manager, null);
            long[] prompt = args.length > 4 ? Arrays.stream(args[4].split(",")).mapToLong(Long::parseLong).toArray() : new long[0];
            try (GenerationSession session = "-".equals(args[1]) ? generator.newSession()
                    : generator.loadSession(Path.of(args[1]))) {
                GenerationResult r = generator.generate(session, prompt,
                        GenerationConfig.builder().maxNewTokens(Integer.parseInt(args[3])).build(), null);
                if (!"-".equals(args[2])) {
                    session.save(Path.of(args[2]));
                }
                System.out.println("TOKENS " + Arrays.stream(r.tokens()).mapToObj(Long::toString).collect(Collectors.joining(",")));
            }
        }
    }
}

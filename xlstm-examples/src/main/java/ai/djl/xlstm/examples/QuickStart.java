package ai.djl.xlstm.examples;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The README's main job: trains a small xLSTM language model (about 1.5M parameters) on
 * <i>Pride and Prejudice</i> with {@code xlstm train}, unless its checkpoint already exists, then
 * streams a completion with {@code xlstm generate}. Usage: {@code QuickStart EXAMPLES_DIR [STEPS]}
 * (Maven's {@code exec:java} passes the module folder).
 */
public final class QuickStart {

    private static final String PROMPT = "It is a truth universally acknowledged, that";

    private QuickStart() {}

    /** Runs the quick start; exits with the CLI's status. */
    public static void main(String[] args) {
        Path base = Path.of(args.length > 0 ? args[0] : "xlstm-examples");
        String steps = args.length > 1 ? args[1] : "300";
        Path run = base.resolve("runs/quickstart");
        int status = 0;
        if (!Files.exists(run.resolve("latest"))) {
            System.out.println("== training a small xLSTM on Pride and Prejudice (" + steps
                    + " updates; the checkpoint goes to " + run + " and is reused next time)");
            status = XLstmCli.run("train", "--text", base.resolve("data/corpus/train/prideprejudice.txt").toString(),
                    "--tokenizer", base.resolve("data/gpt2-8k-tokenizer.json").toString(),
                    "--config", base.resolve("configs/xlstm-quick.json").toString(), "--out", run.toString(),
                    "--steps", steps, "--batch", "8", "--seq-len", "128", "--lr", "3e-3", "--validate-every", "100");
        }
        if (status == 0) {
            System.out.println("== xlstm generate --model-path " + run + " --prompt \"" + PROMPT + "\"");
            System.out.print(PROMPT);
            status = XLstmCli.run("generate", "--model-path", run.toString(), "--prompt", PROMPT,
                    "--max-new-tokens", "120", "--seed", "1", "--repetition-penalty", "1.1");
        }
        System.exit(status);
    }
}

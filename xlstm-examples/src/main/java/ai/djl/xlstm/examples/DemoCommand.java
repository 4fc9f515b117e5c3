package ai.djl.xlstm.examples;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code xlstm demo [DIR]}: loads a checkpoint and prints its logits' shape and a checksum. */
@Command(name = "demo",
        description = "Load a checkpoint folder and print the shape and a checksum of its logits.")
final class DemoCommand implements Callable<Integer> {

    @Parameters(arity = "0..1", paramLabel = "DIR", description = "checkpoint folder (default: the shipped NeurIPS reference)")
    private Path dir;

    @Mixin
    private DeviceOptions engine;

    @Override
    public Integer call() throws Exception {
        Demo.run(dir, engine.device());
        return 0;
    }
}

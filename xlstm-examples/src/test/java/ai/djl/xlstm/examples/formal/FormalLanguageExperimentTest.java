package ai.djl.xlstm.examples.formal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.xlstm.examples.formal.FormalLanguageExperiment.Architecture;
import ai.djl.xlstm.examples.formal.FormalLanguageExperiment.Options;


import org.junit.jupiter.api.Test;

/** The paper's state-tracking finding in miniature: on parity, sLSTM beats mLSTM. */
class FormalLanguageExperimentTest {

    @Test
    void shortParityRunOfSLstmBeatsMLstm() throws Exception {
        double[] accuracy = new double[2];
        Architecture[] archs = {Architecture.SLSTM, Architecture.MLSTM};
        for (int i = 0; i < 2; i++) {
            Options o = new Options(FormalTask.PARITY, archs[i], STEPS, 0, Supervision.DENSE, 32, 3e-3f, 32);
            FormalLanguageExperiment.Result r = FormalLanguageExperiment.run(o, false);
            accuracy[i] = r.test().overall().value();
            System.out.printf("[formal] parity %s, %d steps: test accuracy %.3f (train lengths %.3f), %.1f s%n",
                    archs[i].cliName(), STEPS, accuracy[i], r.trainAccuracy(), r.seconds());
        }
        assertTrue(accuracy[0] > accuracy[1] + 0.2,
                "xLSTM[0:1] " + accuracy[0] + " should beat xLSTM[1:0] " + accuracy[1] + " on parity");
    }

    private static final int STEPS = 200;
}

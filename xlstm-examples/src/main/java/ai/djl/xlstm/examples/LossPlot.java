package ai.djl.xlstm.examples;

import ai.djl.xlstm.training.MetricsLog;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Plots a training run's train and validation loss over steps as a PNG (XChart). */
final class LossPlot {

    private LossPlot() {}

    /** Writes the loss curves of {@code rows} to {@code png}; nothing when no loss was logged. */
    static void write(List<MetricsLog.Row> rows, Path png) throws IOException {
        List<Integer> trainSteps = new ArrayList<>();
        List<Double> train = new ArrayList<>();
        List<Integer> valSteps = new ArrayList<>();
        List<Double> val = new ArrayList<>();
        for (MetricsLog.Row r : rows) {
            if (!Double.isNaN(r.trainLoss())) {
                trainSteps.add(r.step());
                train.add(r.trainLoss());
            }
            if (!Double.isNaN(r.valLoss())) {
                valSteps.add(r.step());
                val.add(r.valLoss());
            }
        }
        if (train.isEmpty() && val.isEmpty()) {
            return;
        }
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(500)
                .title("xLSTM training").xAxisTitle("step").yAxisTitle("cross-entropy loss (nats)").build();
        chart.getStyler().setMarkerSize(4);
        if (!train.isEmpty()) {
            chart.addSeries("train", trainSteps, train).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        }
        if (!val.isEmpty()) {
            chart.addSeries("validation", valSteps, val).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}

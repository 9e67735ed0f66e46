// A small time-series chart (uPlot) for values the console polls.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series { label: string; color: string }

export function Chart({ title, series, times, values, height = 160 }: {
  title: string; series: Series[]; times: number[]; values: number[][]; height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    if (!box.current) return;
    const width = Math.max(240, box.current.clientWidth);
    plot.current = new uPlot({
      width, height,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
      axes: [{}, { size: 50 }],
      // One point (the first poll) would otherwise stretch the axis over years.
      scales: { x: { time: true, range: (_u, min, max) => (max - min < 60 ? [max - 60, max] : [min, max]) } },
      legend: { live: false },
    }, [times, ...values] as uPlot.AlignedData, box.current);
    const ro = new ResizeObserver(() => {
      if (box.current && plot.current) {
        plot.current.setSize({ width: Math.max(240, box.current.clientWidth), height });
      }
    });
    ro.observe(box.current);
    return () => { ro.disconnect(); plot.current?.destroy(); plot.current = null; };
  }, [series.map((s) => s.label).join()]);

  useEffect(() => {
    plot.current?.setData([times, ...values] as uPlot.AlignedData);
  }, [times, values]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s, i) =>
        `${s.label} ${values[i]?.[values[i].length - 1] ?? 'no data'}`).join(', ')}`} />
    </figure>
  );
}

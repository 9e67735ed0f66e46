# gnuplot script: bench/locality.sh's CSV as a PNG bar chart.
#   gnuplot -e "csv='bench/results/locality-X.csv'; out='bench/results/locality-X.png'" bench/locality-plot.gp
set datafile separator ','
set terminal pngcairo size 800,480 font 'Sans,11'
set output out
set title 'Function latency, 20 ms between clusters, 1 MiB objects'
set ylabel 'latency (ms)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set yrange [0:*]
set grid ytics
plot csv every ::1::2 using 6:xtic(1) title 'p50', '' every ::1::2 using 7 title 'p99'

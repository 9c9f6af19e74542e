module wavecom/loadtest/doubles

go 1.24

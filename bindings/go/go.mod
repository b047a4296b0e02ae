module yoloffi

go 1.19

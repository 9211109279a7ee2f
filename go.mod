module maira

go 1.26
